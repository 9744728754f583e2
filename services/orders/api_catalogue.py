"""HTTP routes of the catalogue (publishing, dossier §9.1), by who calls them: the merchant's (its product,
its package in the asset centre, the publication), the platform operator's (the security scan, the review, the
joint-operation certification), and the public reads of listed products."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.orders import catalogue_cases
from services.orders.api import Ctx, Id
from services.orders.catalogue import Asset, Certification, Product
from services.orders.commands import Certify, CreateProduct, RegisterAsset, Review, ScanResult
from shared.platform.auth import Merchant, Operator, OptionalCaller

router = APIRouter(tags=["catalogue"])


@router.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(body: CreateProduct, merchant: Merchant, ctx: Ctx) -> Product:
    """Create a draft product with its specifications (merchants only)."""
    return await catalogue_cases.create_product(ctx, merchant, body)


@router.post("/assets", status_code=status.HTTP_201_CREATED)
async def register_asset(body: RegisterAsset, merchant: Merchant, ctx: Ctx) -> Asset:
    """Upload a software package to the asset centre (merchants only)."""
    return await catalogue_cases.register_asset(ctx, merchant, body)


@router.post("/assets/{asset_id}/release")
async def release_asset(asset_id: Id, merchant: Merchant, ctx: Ctx) -> Asset:
    """Release the package in the asset centre (its merchant only)."""
    return await catalogue_cases.release_asset(ctx, asset_id, merchant)


@router.post("/products/{product_id}/publish")
async def publish_product(product_id: Id, merchant: Merchant, ctx: Ctx) -> Product:
    """Publish: checks the prerequisites and queues the product for the operator's review (its merchant)."""
    return await catalogue_cases.publish(ctx, product_id, merchant)


@router.post("/assets/{asset_id}/scan")
async def scan_asset(asset_id: Id, body: ScanResult, operator: Operator, ctx: Ctx) -> Asset:
    """Record the security scan's verdict (operators only)."""
    return await catalogue_cases.scan_asset(ctx, asset_id, operator, body)


@router.post("/products/{product_id}/review")
async def review_product(product_id: Id, body: Review, operator: Operator, ctx: Ctx) -> Product:
    """List or reject a publication (operators only)."""
    return await catalogue_cases.review(ctx, product_id, operator, body)


@router.post("/certifications", status_code=status.HTTP_201_CREATED)
async def certify(body: Certify, operator: Operator, ctx: Ctx) -> Certification:
    """Record a product's joint-operation certification score (operators only)."""
    return await catalogue_cases.certify(ctx, operator, body)


@router.get("/products")
async def list_products(ctx: Ctx) -> list[Product]:
    """The listed products (public)."""
    return await ctx.queries.listed_products()


@router.get("/products/{product_id}")
async def get_product(product_id: Id, viewer: OptionalCaller, ctx: Ctx) -> Product:
    """Read a listed product (public; its merchant and operators also see it unlisted, with a token)."""
    return await ctx.queries.product(product_id, viewer)
