"""The console: the marketplace's people do their work in a browser (buyer, merchant, provider and operator
centres). A backend-for-frontend: it holds the user's OIDC session in an encrypted cookie and calls the four
services' HTTP APIs with the user's token; it has no database and the browser never sees a token."""
