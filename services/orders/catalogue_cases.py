"""Use cases of the catalogue: products, asset-centre packages, joint-op certification, publishing, review."""

from __future__ import annotations

from services.orders.base import Base
from services.orders.catalogue import Asset, Certification, Product
from services.orders.commands import Certify, CreateProduct, RegisterAsset, Review, ScanResult
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import Forbidden, InvalidInput, NotFound
from shared.schemas import AccountRole


class CatalogueCases(Base):
    async def create_product(self, merchant: Principal, cmd: CreateProduct) -> Product:
        async def work(uow: OrdersUnitOfWork) -> Product:
            account = await self._profile(uow, merchant, AccountRole.MERCHANT)
            if await uow.products.get(cmd.product_id) is not None:
                raise InvalidInput(f"product {cmd.product_id} already exists", field="product_id")
            product = Product(**cmd.model_dump(), merchant_account_id=merchant.account_id,
                              merchant_name=account.display_name)
            await uow.products.add(product)
            await uow.commit()
            return product

        return await self.uow.run(work)

    async def get_product(self, product_id: str, viewer: Principal | None) -> Product:
        """A listed product is public; an unlisted one is its merchant's and the reviewing operators'."""
        async with self.uow() as uow:
            product = await self._product(uow, product_id)
        insider = viewer is not None and (viewer.account_id == product.merchant_account_id or viewer.is_operator)
        if product.status != "listed" and not insider:
            raise NotFound(f"product {product_id} is not listed", field="product_id")
        return product

    async def list_products(self, status: str = "listed", merchant: str | None = None) -> list[Product]:
        async with self.uow() as uow:
            query: dict[str, object] = {"status": status}
            if merchant:
                query["merchant_account_id"] = merchant
            return await uow.products.find(query)

    async def publish(self, product_id: str, merchant: Principal) -> Product:
        """Check the prerequisites (dossier §9.1, §4.1, §4.2) and queue the product for the operator."""

        async def work(uow: OrdersUnitOfWork) -> Product:
            product = await self._product(uow, product_id)
            asset = await uow.assets.get(product.asset_id) if product.asset_id else None
            cert = await uow.certifications.get(f"{product.merchant_account_id}:{product.product_id}")
            product.publish(merchant.account_id, asset, cert)
            await uow.products.save(product)
            await uow.commit()
            return product

        return await self.uow.run(work)

    async def review(self, product_id: str, operator: Principal, cmd: Review) -> Product:
        """Only platform operators review publications (dossier §9.1 step 5; the route admits operators only)."""

        async def work(uow: OrdersUnitOfWork) -> Product:
            product = await self._product(uow, product_id)
            product.review(operator.account_id, cmd.approve, cmd.note, self.clock())
            await uow.products.save(product)
            await uow.commit()
            return product

        return await self.uow.run(work)

    async def register_asset(self, merchant: Principal, cmd: RegisterAsset) -> Asset:
        async def work(uow: OrdersUnitOfWork) -> Asset:
            await self._profile(uow, merchant, AccountRole.MERCHANT)
            if await uow.assets.get(cmd.asset_id) is not None:
                raise InvalidInput(f"asset {cmd.asset_id} already exists", field="asset_id")
            asset = Asset(asset_id=cmd.asset_id, merchant_account_id=merchant.account_id, name=cmd.name)
            await uow.assets.add(asset)
            await uow.commit()
            return asset

        return await self.uow.run(work)

    async def release_asset(self, asset_id: str, merchant: Principal) -> Asset:
        """The merchant releases the package in the asset centre (dossier §9.1 step 2)."""
        return await self._change_asset(asset_id, merchant, None)

    async def scan_asset(self, asset_id: str, operator: Principal, cmd: ScanResult) -> Asset:
        """The platform records the security scan's verdict (dossier §9.1 step 3; operators only, at the route)."""
        return await self._change_asset(asset_id, operator, cmd)

    async def _change_asset(self, asset_id: str, actor: Principal, scan: ScanResult | None) -> Asset:
        async def work(uow: OrdersUnitOfWork) -> Asset:
            asset = await uow.assets.get(asset_id)
            if asset is None:
                raise NotFound(f"asset {asset_id} does not exist", field="asset_id")
            if scan is None:
                if actor.account_id != asset.merchant_account_id:
                    raise Forbidden(f"asset {asset_id} belongs to another merchant", rule="own_assets_only")
                asset.released = True
            else:
                if not actor.is_operator:
                    raise Forbidden("only operators record security scans", rule="operators_only")
                asset.scan, asset.findings = ("passed" if scan.passed else "failed"), scan.findings
            await uow.assets.save(asset)
            await uow.commit()
            return asset

        return await self.uow.run(work)

    async def certify(self, operator: Principal, cmd: Certify) -> Certification:
        """The platform records a joint-operation certification score (> 60 of 120 passes, dossier §9.1)."""

        async def work(uow: OrdersUnitOfWork) -> Certification:
            key = f"{cmd.merchant_account_id}:{cmd.product_id}"
            cert = Certification(certification_id=key, certified_at=self.clock(), **cmd.model_dump())
            existing = await uow.certifications.get(key)
            if existing is None:
                await uow.certifications.add(cert)
            else:
                await uow.certifications.save(cert.model_copy(update={"version": existing.version}))
            await uow.commit()
            return cert

        return await self.uow.run(work)

    @staticmethod
    async def _product(uow: OrdersUnitOfWork, product_id: str) -> Product:
        product = await uow.products.get(product_id)
        if product is None:
            raise NotFound(f"product {product_id} does not exist", field="product_id")
        return product
