"""Use cases of the catalogue: products, asset-centre packages, joint-operation certification, publishing and
the operator's review (reading the catalogue: queries.py)."""

from __future__ import annotations

from services.orders import notices
from services.orders.catalogue import Asset, Certification, Product
from services.orders.commands import Certify, CreateProduct, RegisterAsset, Review, ScanResult
from services.orders.context import OrdersContext, add, change, correlation, own_profile
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import Forbidden
from shared.schemas import AccountRole, Event


async def create_product(ctx: OrdersContext, merchant: Principal, cmd: CreateProduct) -> Product:
    """A draft product of the caller's own registered merchant profile."""

    async def draft(uow: OrdersUnitOfWork) -> Product:
        account = await own_profile(uow, merchant, AccountRole.MERCHANT)
        return Product(
            **cmd.model_dump(), merchant_account_id=merchant.account_id, merchant_name=account.display_name
        )

    return await add(ctx, lambda uow: uow.products, "product", draft)


async def publish(ctx: OrdersContext, product_id: str, merchant: Principal) -> Product:
    """Check the prerequisites (dossier §9.1, §4.1, §4.2) and queue the product for the operator."""

    async def published(uow: OrdersUnitOfWork, product: Product) -> list[Event]:
        asset = await uow.assets.get(product.asset_id) if product.asset_id else None
        certification = await uow.certifications.of(product.merchant_account_id, product.product_id)
        product.publish(merchant.account_id, asset, certification, ctx.clock())
        return []

    return await change(ctx, lambda uow: uow.products, product_id, "product", published)


async def review(ctx: OrdersContext, product_id: str, operator: Principal, cmd: Review) -> Product:
    """Only platform operators review publications (dossier §9.1 step 5; the route admits operators only)."""

    async def reviewed(_: OrdersUnitOfWork, product: Product) -> list[Event]:
        product.review(operator.account_id, cmd.approve, cmd.note, ctx.clock())
        return [notices.listing_review_result(product, correlation())]  # dossier §6.3: to the merchant

    return await change(ctx, lambda uow: uow.products, product_id, "product", reviewed)


async def register_asset(ctx: OrdersContext, merchant: Principal, cmd: RegisterAsset) -> Asset:
    """A software package of the caller's own merchant profile, in the asset centre (dossier §9.1 step 2)."""

    async def uploaded(uow: OrdersUnitOfWork) -> Asset:
        await own_profile(uow, merchant, AccountRole.MERCHANT)
        return Asset(asset_id=cmd.asset_id, merchant_account_id=merchant.account_id, name=cmd.name)

    return await add(ctx, lambda uow: uow.assets, "asset", uploaded)


async def release_asset(ctx: OrdersContext, asset_id: str, merchant: Principal) -> Asset:
    """The merchant releases the package in the asset centre (dossier §9.1 step 2)."""

    async def released(_: OrdersUnitOfWork, asset: Asset) -> list[Event]:
        if merchant.account_id != asset.merchant_account_id:
            raise Forbidden(f"asset {asset_id} belongs to another merchant", rule="own_assets_only")
        asset.released = True
        return []

    return await change(ctx, lambda uow: uow.assets, asset_id, "asset", released)


async def scan_asset(ctx: OrdersContext, asset_id: str, operator: Principal, cmd: ScanResult) -> Asset:
    """The platform records the security scan's verdict (dossier §9.1 step 3; operators only)."""

    async def scanned(_: OrdersUnitOfWork, asset: Asset) -> list[Event]:
        if not operator.is_operator:
            raise Forbidden("only operators record security scans", rule="operators_only")
        asset.scan, asset.findings = ("passed" if cmd.passed else "failed"), cmd.findings
        return []

    return await change(ctx, lambda uow: uow.assets, asset_id, "asset", scanned)


async def certify(ctx: OrdersContext, operator: Principal, cmd: Certify) -> Certification:
    """The platform records a joint-operation certification score (> 60 of 120 passes, dossier §9.1); a new
    score replaces the one on record."""

    async def work(uow: OrdersUnitOfWork) -> Certification:
        key = Certification.key(cmd.merchant_account_id, cmd.product_id)
        certification = Certification(certification_id=key, certified_at=ctx.clock(), **cmd.model_dump())
        existing = await uow.certifications.get(key)
        if existing is None:
            await uow.certifications.add(certification)
        else:
            await uow.certifications.save(certification.model_copy(update={"version": existing.version}))
        await uow.commit()
        return certification

    return await ctx.uow.run(work)
