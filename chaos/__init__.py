"""The fault matrix (`make chaos`): 1,000 orders through two replicas of each service while things break."""
