"""Use cases of accounts: a person registers its own profile from its token; operations verify a buyer's
company and grant coupons; the owner erases its contact data (reading and exporting it: queries.py)."""

from __future__ import annotations

from collections.abc import Callable

from services.orders.accounts import Account, mask_email, mask_phone
from services.orders.commands import GrantCoupon, RegisterAccount, VerifyProfile
from services.orders.context import OrdersContext, change, correlation
from services.orders.store import OrdersUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import Forbidden, InvalidInput, NotFound
from shared.schemas import Event

ERASE_ORDERS = 10_000  # the buyer's orders whose delivery contacts an erasure masks


async def register_account(
    ctx: OrdersContext, caller: Principal, cmd: RegisterAccount
) -> tuple[Account, bool]:
    """Idempotent: the caller's profile, and whether this call created it. Only the caller's own, with the
    role its token holds; nothing here can make an operator (operators exist only in the identity provider; an
    operator's token registers only that operator's contact data)."""
    role = caller.role
    if role is None:
        raise Forbidden(
            "a profile is for a buyer, merchant, provider or operator account; the token holds "
            "none or several of those roles",
            rule="one_marketplace_role",
        )
    email = _email(caller, cmd)

    async def work(uow: OrdersUnitOfWork) -> tuple[Account, bool]:
        existing = await uow.accounts.get(caller.account_id)
        if existing is not None and existing.erased_at is None:
            return existing, False
        account = Account(
            account_id=caller.account_id,
            role=role,
            bound_email=email,
            display_name=cmd.display_name or caller.name or caller.username or caller.account_id,
            bound_phone=cmd.bound_phone,
            locale=cmd.locale,
            created_at=ctx.clock(),
        )
        if existing is None:
            await uow.accounts.add(account)
        else:  # registering again after an erasure: new contact data, the rest kept (and answered)
            account = account.model_copy(
                update={
                    "version": existing.version,
                    "created_at": existing.created_at,
                    "verified": existing.verified,
                    "coupons": existing.coupons,
                }
            )
            await uow.accounts.save(account)
        uow.emit(account.registered(correlation()))
        await uow.commit()
        return account, True

    return await ctx.uow.run(work)


def _email(caller: Principal, cmd: RegisterAccount) -> str:
    """The identity provider's verified email wins; a caller without one binds the email it gives."""
    if caller.email and caller.email_verified:
        if cmd.bound_email is not None and cmd.bound_email.lower() != caller.email.lower():
            raise InvalidInput(
                f"the bound email is the one the identity provider verified "
                f"({mask_email(caller.email)}); change it there",
                field="bound_email",
            )
        return caller.email
    if cmd.bound_email is None:
        raise InvalidInput("the token carries no verified email: give bound_email", field="bound_email")
    return str(cmd.bound_email)


async def verify_profile(
    ctx: OrdersContext, account_id: str, operator: Principal, cmd: VerifyProfile
) -> Account:
    """Operations record a buyer's verified enterprise (operators only, at the route)."""
    return await _operate(
        ctx, account_id, lambda a: a.verify(cmd.company, cmd.track, operator.account_id, ctx.clock())
    )


async def grant_coupon(ctx: OrdersContext, account_id: str, operator: Principal, cmd: GrantCoupon) -> Account:
    """Operations grant a platform coupon to a buyer's wallet (operators only, at the route)."""
    return await _operate(
        ctx, account_id, lambda a: a.grant(cmd.kind, cmd.amount, operator.account_id, ctx.clock())
    )


async def _operate(ctx: OrdersContext, account_id: str, act: Callable[[Account], object]) -> Account:
    """An operator's change of an account; it publishes nothing."""

    async def acted(_: OrdersUnitOfWork, account: Account) -> list[Event]:
        act(account)
        return []

    return await change(ctx, lambda uow: uow.accounts, account_id, "account", acted)


async def erase(ctx: OrdersContext, caller: Principal) -> Account:
    """Mask the caller's contact data here, and tell the other services (account.erased) to erase theirs.
    Orders keep their parties and amounts (what a record must keep); delivery contacts are masked."""

    async def work(uow: OrdersUnitOfWork) -> Account:
        account = await uow.accounts.get(caller.account_id)
        if account is None:
            raise NotFound(f"account {caller.account_id} has no profile", field="account")
        events = account.erase(ctx.clock(), correlation())
        if not events:
            return account
        for order in await uow.orders.of_buyer(account.account_id, limit=ERASE_ORDERS):
            contact = order.delivery_contact
            if contact is not None:
                order.delivery_contact = contact.model_copy(
                    update={"name": "***", "phone": mask_phone(contact.phone), "address": "***"}
                )
                await uow.orders.save(order)
        await uow.accounts.save(account)
        uow.emit(*events)
        await uow.commit()
        return account

    return await ctx.uow.run(work)
