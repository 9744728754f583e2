"""Use cases of accounts: a person registers its own profile from its token; operations verify a buyer's company
and grant coupons; the owner exports or erases its contact data."""

from __future__ import annotations

from typing import Any

from services.orders.accounts import Account, mask_email, mask_phone
from services.orders.base import Base, correlation
from services.orders.commands import GrantCoupon, RegisterAccount, VerifyProfile
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import Forbidden, InvalidInput, NotFound


class AccountCases(Base):
    async def register_account(self, caller: Principal, cmd: RegisterAccount) -> tuple[Account, bool]:
        """Idempotent: the caller's profile, and whether this call created it. Only the caller's own, with the
        role its token holds; nothing here can make an operator (operators exist only in the identity
        provider; an operator's token registers only that operator's contact data)."""
        role = caller.role
        if role is None:
            raise Forbidden("a profile is for a buyer, merchant, provider or operator account; the token holds "
                            "none or several of those roles", rule="one_marketplace_role")
        email = self._email(caller, cmd)

        async def work(uow: OrdersUnitOfWork) -> tuple[Account, bool]:
            existing = await uow.accounts.get(caller.account_id)
            if existing is not None and existing.erased_at is None:
                return existing, False
            account = Account(account_id=caller.account_id, role=role, bound_email=email,
                              display_name=cmd.display_name or caller.name or caller.username or caller.account_id,
                              bound_phone=cmd.bound_phone, locale=cmd.locale, created_at=self.clock())
            if existing is None:
                await uow.accounts.add(account)
            else:  # registering again after an erasure: new contact data, the rest kept (and answered)
                account = account.model_copy(update={
                    "version": existing.version, "created_at": existing.created_at, "verified": existing.verified,
                    "coupons": existing.coupons})
                await uow.accounts.save(account)
            uow.emit(account.registered(correlation()))
            await uow.commit()
            return account, True

        return await self.uow.run(work)

    @staticmethod
    def _email(caller: Principal, cmd: RegisterAccount) -> str:
        """The identity provider's verified email wins; a caller without one binds the email it gives."""
        if caller.email and caller.email_verified:
            if cmd.bound_email is not None and cmd.bound_email.lower() != caller.email.lower():
                raise InvalidInput(f"the bound email is the one the identity provider verified "
                                   f"({mask_email(caller.email)}); change it there", field="bound_email")
            return caller.email
        if cmd.bound_email is None:
            raise InvalidInput("the token carries no verified email: give bound_email", field="bound_email")
        return str(cmd.bound_email)

    async def get_account(self, account_id: str, caller: Principal) -> Account:
        """The owner, and operators (they verify appeals with the parties by email or phone, dossier §5.3)."""
        require_party(caller, account_id, what=f"account {account_id}", operators=True)
        async with self.uow() as uow:
            account = await uow.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} does not exist", field="account_id")
        return account

    async def verify_profile(self, account_id: str, operator: Principal, cmd: VerifyProfile) -> Account:
        return await self._change_account(account_id, lambda a: a.verify(cmd.company, cmd.track,
                                                                          operator.account_id, self.clock()))

    async def grant_coupon(self, account_id: str, operator: Principal, cmd: GrantCoupon) -> Account:
        return await self._change_account(account_id, lambda a: a.grant(cmd.kind, cmd.amount, operator.account_id,
                                                                         self.clock()))

    async def _change_account(self, account_id: str, change: Any) -> Account:
        async def work(uow: OrdersUnitOfWork) -> Account:
            account = await uow.accounts.get(account_id)
            if account is None:
                raise NotFound(f"account {account_id} does not exist", field="account_id")
            change(account)
            await uow.accounts.save(account)
            await uow.commit()
            return account

        return await self.uow.run(work)

    async def export(self, caller: Principal) -> dict[str, Any]:
        """The contact data this service holds for the caller: its profile and the delivery contacts it gave
        on its orders (bounded: the newest 1,000 orders)."""
        async with self.uow() as uow:
            account = await uow.accounts.get(caller.account_id)
            orders = await uow.orders.find({"buyer_account_id": caller.account_id}, limit=1000, sort="-created_at")
        if account is None:
            raise NotFound(f"account {caller.account_id} has no profile", field="account")
        contacts = [{"order_id": o.order_id, "delivery_contact": o.delivery_contact.model_dump()}
                    for o in orders if o.delivery_contact is not None]
        return {"account": account.model_dump(mode="json"), "delivery_contacts": contacts}

    async def erase(self, caller: Principal) -> Account:
        """Mask the caller's contact data here, and tell the other services (account.erased) to erase theirs.
        Orders keep their parties and amounts (what a record must keep); delivery contacts are masked."""

        async def work(uow: OrdersUnitOfWork) -> Account:
            account = await uow.accounts.get(caller.account_id)
            if account is None:
                raise NotFound(f"account {caller.account_id} has no profile", field="account")
            events = account.erase(self.clock(), correlation())
            if events:
                for order in await uow.orders.find({"buyer_account_id": account.account_id}, limit=10_000):
                    if order.delivery_contact is not None:
                        c = order.delivery_contact
                        order.delivery_contact = c.model_copy(update={
                            "name": "***", "phone": mask_phone(c.phone), "address": "***"})
                        await uow.orders.save(order)
                await uow.accounts.save(account)
                uow.emit(*events)
                await uow.commit()
            return account

        return await self.uow.run(work)
