"""The renewer: keeps a live subscription on every calendar that an active pair reads from.

One `tick()`:

1. reconcile: read pairs and subscription rows; insert a placeholder row for every watched
   calendar that has none, and mark the rows of calendars nothing needs any more as stopping
   (`reconcile.plan_reconcile`);
2. claim the due rows (`claims.claim_due`: SKIP LOCKED + lease on PostgreSQL) and act on each
   as `schedule.decide` says: create, renew in place (Graph PATCH), recreate (Google rotation,
   a new token, or after a loss) or stop, as the provider's profile allows; failures are
   retried with backoff through the row's `failures` / `renew_at`;
3. publish a RESYNC hint for a calendar whose subscription was lost (or newly made) and, on a
   schedule, for every watched calendar (reconciliation: a dropped notification delays a change
   but never loses it);
4. set the gauges.

Graph lifecycle events arrive through the bus (`handle_lifecycle`). Everything that reads time
reads the injected clock, and every random draw comes from the injected RNG, so tests drive
days of renewals by advancing a clock and calling `tick()`.

Streaming subscriptions (EWS) are kept by the EWS listener: the `providers` resolver returns None
for a calendar the renewer does not keep, and such calendars are left alone (the hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.base import Bus, RetryLater
from calbridge.clock import Clock
from calbridge.errors import BusUnavailable, ConfigurationError, NotFound, ProviderError, Throttled
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider
from calbridge.logs import get_logger
from calbridge.pairs.removal import finish_removal
from calbridge.pairs.states import InvalidTransition
from calbridge.providers.profile import Renewal
from calbridge.providers.registry import PROFILES, profile_for
from calbridge.providers.subscriptions import SubscriptionHandle, SubscriptionProvider
from calbridge.settings import Settings
from calbridge.tokens import sign_token
from subscriptions import rows as store
from subscriptions.claims import claim_due, claim_one, insert_placeholders
from subscriptions.lifecycle import LifecycleStep, lifecycle_step
from subscriptions.metrics import RENEWALS, RESYNCS, observe_rows
from subscriptions.mirrors import OpenCalendar, delete_mirrors
from subscriptions.reconcile import PairView, plan_reconcile, removals_ready, source_calendars
from subscriptions.schedule import (
    Decision,
    RenewalPolicy,
    ResyncCause,
    RowState,
    SubscriptionAction,
    SubscriptionRow,
    backoff_until,
    decide,
    next_resync,
    profile_lifetimes,
    renew_time,
    resync_due,
)

__all__ = ["Endpoints", "ProviderFor", "Renewer", "TickReport", "policy_from", "run_loop"]

log = get_logger("calbridge.renewer")

ProviderFor = Callable[[store.CalendarInfo], SubscriptionProvider | None]
_GONE = (ResyncCause.REMOVED, ResyncCause.LAPSED, ResyncCause.GONE)
_MAX_ROUNDS = 20  # claims of `batch` rows per pass; the rest waits for the next pass


def policy_from(settings: Settings) -> RenewalPolicy:
    return RenewalPolicy(
        margin=settings.renew_margin,
        jitter=settings.renew_jitter,
        lifetimes=profile_lifetimes(profile.tuned(settings) for profile in PROFILES),
        token_lifetime=settings.subscription_token_lifetime,
        retry_base=settings.renew_retry_base,
        retry_cap=settings.renew_retry_cap,
        resync_interval=settings.resync_interval,
    )


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where providers deliver: the receiver's public routes (each profile names its own)."""

    base: str

    @classmethod
    def under(cls, public_url: str) -> Endpoints:
        return cls(public_url.rstrip("/"))

    def for_provider(self, provider: Provider) -> tuple[str, str | None]:
        """(notification URL, lifecycle URL or None) of a push provider."""
        profile = profile_for(provider)
        if profile.notification_path is None:
            raise ValueError(f"{provider} does not push notifications to the receiver")
        lifecycle = None if profile.lifecycle_path is None else self.base + profile.lifecycle_path
        return self.base + profile.notification_path, lifecycle


@dataclass
class TickReport:
    """What one tick did, by outcome (created, renewed, recreated, stopped, failed, resynced)."""

    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Renewer:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        providers: ProviderFor,
        *,
        keys: Mapping[str, bytes],
        endpoints: Endpoints,
        policy: RenewalPolicy | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 100,
        concurrency: int = 8,
        open_calendar: OpenCalendar | None = None,
    ) -> None:
        if not keys:
            raise ValueError("the renewer needs at least one signing key")
        self.engine = engine
        self.bus = bus
        self.providers = providers
        self.keys = dict(keys)
        self.signing_kid = next(iter(self.keys))
        self.endpoints = endpoints
        self.policy = policy or RenewalPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.lease = lease
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)
        self.open_calendar = open_calendar  # the adapters, to delete mirrors of removed pairs

    # -- the loop's step ------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        report = TickReport()
        now = self.clock()
        world = await store.read_world(self.engine)
        watchable = {cid: self.providers(cal) is not None for cid, cal in world.calendars.items()}
        plan = plan_reconcile(world.pairs, world.rows, watchable)
        kinds = {cid: cal.provider for cid, cal in world.calendars.items()}
        await insert_placeholders(self.engine, plan.create, kinds, now)
        await store.mark_due(self.engine, plan.stop, now, RowState.STOPPING)
        for _ in range(_MAX_ROUNDS):  # bounded: rows left due (a missing adapter) cannot spin
            claimed = await claim_due(self.engine, self.clock(), self.lease, self.batch)
            await asyncio.gather(
                *(self._guarded(row, world.calendars, plan.wanted, report) for row in claimed)
            )
            if len(claimed) < self.batch:
                break
        after = await store.read_world(self.engine)
        await self._finish_removals(after, report)
        observe_rows(after.rows, self.clock())
        return report

    async def _finish_removals(self, world: store.World, report: TickReport) -> None:
        """Delete removing pairs once their subscriptions are stopped (`pairs.finish_removal`)."""
        by_id = {pair.id: pair for pair in world.pairs}
        for pair_id in removals_ready(world.pairs, world.rows):
            pair = by_id[pair_id]
            if pair.delete_mirrors and not await self._delete_mirrors(pair, world):
                continue
            async with self.engine.begin() as conn:
                try:
                    await finish_removal(conn, pair_id)
                except InvalidTransition:  # resumed or removed by someone else meanwhile
                    continue
            report.count("pairs_removed")
            log.info("pair_removal_finished", pair=pair_id)

    async def _delete_mirrors(self, pair: PairView, world: store.World) -> bool:
        """True once the pair's mirrors are gone; False to come back next pass."""
        if self.open_calendar is None:
            log.warning("pair_removal_waits_for_mirror_deletion", pair=pair.id)
            return False
        try:
            return await delete_mirrors(self.engine, pair, world.calendars, self.open_calendar)
        except (ProviderError, ConfigurationError) as exc:  # a connection it cannot open waits too
            log.warning("mirror_deletion_failed", pair=pair.id, error=type(exc).__name__)
            return False

    async def _guarded(
        self,
        row: SubscriptionRow,
        calendars: Mapping[str, store.CalendarInfo],
        wanted: frozenset[str],
        report: TickReport,
    ) -> None:
        async with self._slots:
            calendar = calendars.get(row.calendar_id)
            if calendar is None:  # a calendar this snapshot did not name: look at it next tick
                await store.release(self.engine, [row.id], self.clock())
                return
            try:
                await self._act(row, calendar, row.calendar_id in wanted, report)
            except Exception as exc:
                log.exception(
                    "subscription_action_crashed", calendar=row.calendar_id, error=type(exc).__name__
                )
                await self._failed(row, exc, report)

    async def _act(
        self, row: SubscriptionRow, calendar: store.CalendarInfo, wanted: bool, report: TickReport
    ) -> None:
        provider = self.providers(calendar)
        now = self.clock()
        if provider is None:
            await store.release(self.engine, [row.id], now)
            return
        decision = decide(
            row,
            wanted=wanted,
            signing_kid=self.signing_kid,
            now=now,
            policy=self.policy,
            renewable=profile_for(provider.provider).renewal is Renewal.IN_PLACE,
        )
        if decision.action in (SubscriptionAction.CREATE, SubscriptionAction.RECREATE):
            await self._subscribe(row, calendar, provider, decision, report)
        elif decision.action == SubscriptionAction.RENEW:
            await self._renew(row, calendar, provider, report)
        elif decision.action == SubscriptionAction.STOP:
            await self._stop(row, calendar, provider, report)
        elif resync_due(row, now):
            await self._scheduled_resync(row, calendar, report)
        else:
            await store.release(self.engine, [row.id], now)

    # -- actions ---------------------------------------------------------------------------------

    async def _subscribe(
        self,
        row: SubscriptionRow,
        calendar: store.CalendarInfo,
        provider: SubscriptionProvider,
        decision: Decision,
        report: TickReport,
    ) -> None:
        now = self.clock()
        kind = provider.provider
        expiry = now + self.policy.lifetime(kind)
        new_id = store.new_id()
        token_expiry = self.policy.token_expiry(kind, now, expiry)
        token_format = profile_for(kind).token
        token = sign_token(
            kind,
            calendar.id,
            token_expiry,
            self.keys,
            channel_id=new_id if token_format is not None and token_format.bound_to_channel else None,
        )
        address, lifecycle = self.endpoints.for_provider(kind)
        try:
            granted = await provider.create(calendar.address, new_id, token, address, lifecycle, expiry)
        except ProviderError as exc:
            await self._failed(row, exc, report)
            return
        done = self.clock()
        replaced = row.provider_id is not None and decision.resync not in _GONE
        async with self.engine.begin() as conn:
            await store.insert_subscription(
                conn,
                store.NewSubscription(
                    id=new_id,
                    calendar_id=calendar.id,
                    provider=kind,
                    provider_id=granted.provider_id,
                    expires_at=granted.expires_at,
                    renew_at=renew_time(granted.expires_at, done, self.policy, self.rng),
                    resync_at=next_resync(done, self.policy, self.rng),
                    key_id=self.signing_kid,
                    token_expires_at=token_expiry,
                ),
                done,
            )
            if replaced:  # still live on the provider: stop it once the new one is recorded
                await store.update_row(
                    conn, row.id, done, state=RowState.STOPPING, renew_at=done, lease_until=done + self.lease
                )
            else:
                await store.delete_row(conn, row.id)
        outcome = "created" if decision.action == SubscriptionAction.CREATE else "recreated"
        RENEWALS.labels(provider=kind.value, outcome=outcome).inc()
        report.count(outcome)
        log.info("subscription_" + outcome, provider=kind.value, calendar=calendar.id, reason=decision.reason)
        if replaced:
            stopping = SubscriptionRow(
                id=row.id,
                calendar_id=row.calendar_id,
                provider=row.provider,
                state=RowState.STOPPING,
                provider_id=row.provider_id,
                expires_at=row.expires_at,
                failures=row.failures,
            )
            await self._stop(stopping, calendar, provider, report)
        if decision.resync is not None and not await self._publish_resync(calendar.id, kind, decision.resync):
            async with self.engine.begin() as conn:  # try again on the next tick
                await store.update_row(conn, new_id, self.clock(), resync_at=done)
        if decision.resync is not None:
            report.count("resynced")

    async def _renew(
        self,
        row: SubscriptionRow,
        calendar: store.CalendarInfo,
        provider: SubscriptionProvider,
        report: TickReport,
    ) -> None:
        now = self.clock()
        assert row.provider_id is not None  # decide() renews only subscribed rows
        handle = SubscriptionHandle(row.id, row.provider_id, calendar.address)
        try:
            expires_at = await provider.renew(handle, now + self.policy.lifetime(provider.provider))
        except NotFound:
            RENEWALS.labels(provider=provider.provider.value, outcome="gone").inc()
            gone = Decision(SubscriptionAction.RECREATE, "gone on the provider", ResyncCause.GONE)
            await self._subscribe(row, calendar, provider, gone, report)
            return
        except ProviderError as exc:
            await self._failed(row, exc, report)
            return
        done = self.clock()
        async with self.engine.begin() as conn:
            await store.update_row(
                conn,
                row.id,
                done,
                expires_at=expires_at,
                renew_at=renew_time(expires_at, done, self.policy, self.rng),
                state=RowState.ACTIVE,
                failures=0,
                last_error=None,
            )
        RENEWALS.labels(provider=provider.provider.value, outcome="renewed").inc()
        report.count("renewed")

    async def _stop(
        self,
        row: SubscriptionRow,
        calendar: store.CalendarInfo,
        provider: SubscriptionProvider,
        report: TickReport,
    ) -> None:
        now = self.clock()
        live = row.provider_id is not None and row.expires_at is not None and row.expires_at > now
        if live and row.state != RowState.REMOVED:
            assert row.provider_id is not None
            try:
                await provider.stop(SubscriptionHandle(row.id, row.provider_id, calendar.address))
            except NotFound:
                pass  # already gone: the outcome we wanted
            except ProviderError as exc:
                await self._failed(row, exc, report)
                return
        async with self.engine.begin() as conn:
            await store.delete_row(conn, row.id)
        RENEWALS.labels(provider=provider.provider.value, outcome="stopped").inc()
        report.count("stopped")

    async def _failed(self, row: SubscriptionRow, exc: Exception, report: TickReport) -> None:
        now = self.clock()
        failures = row.failures + 1
        retry_at = backoff_until(failures, now, self.policy, self.rng)
        if isinstance(exc, Throttled):
            retry_at = max(retry_at, now + timedelta(seconds=exc.retry_after))
        state = RowState.FAILED if row.state == RowState.ACTIVE else row.state
        async with self.engine.begin() as conn:
            await store.update_row(
                conn,
                row.id,
                now,
                failures=failures,
                renew_at=retry_at,
                state=state,
                last_error=f"{type(exc).__name__}: {exc}"[:500],
            )
        RENEWALS.labels(provider=row.provider.value, outcome="failed").inc()
        report.count("failed")
        log.warning(
            "subscription_action_failed",
            provider=row.provider.value,
            calendar=row.calendar_id,
            error=type(exc).__name__,
            reason=str(exc)[:300],  # the provider's own words, e.g. Graph's code and message
            failures=failures,
            retry_at=retry_at.isoformat(),
        )

    async def _scheduled_resync(
        self, row: SubscriptionRow, calendar: store.CalendarInfo, report: TickReport
    ) -> None:
        now = self.clock()
        published = await self._publish_resync(calendar.id, calendar.provider, ResyncCause.SCHEDULE)
        async with self.engine.begin() as conn:
            # Not published: leave it due, released, for the next tick.
            resync_at = next_resync(now, self.policy, self.rng) if published else row.resync_at
            await store.update_row(conn, row.id, now, resync_at=resync_at)
        if published:
            report.count("resynced")

    async def _publish_resync(self, calendar_id: str, provider: Provider, cause: ResyncCause) -> bool:
        hint = ChangeEvent(
            provider=provider,
            calendar=calendar_id,
            kind=ChangeKind.RESYNC,
            reason=cause.value,
            received_at=self.clock(),
        )
        try:
            await self.bus.publish([hint])
        except BusUnavailable:
            log.warning("resync_not_published", calendar=calendar_id, cause=cause.value)
            return False
        RESYNCS.labels(cause=cause.value).inc()
        log.info("resync_published", calendar=calendar_id, cause=cause.value)
        return True

    # -- lifecycle events ------------------------------------------------------------------------

    async def handle_lifecycle(self, event: LifecycleEvent) -> None:
        """A Graph lifecycle notification, as the receiver authenticated and published it."""
        row = await store.find_by_provider_id(self.engine, event.provider, event.subscription)
        if row is not None and row.calendar_id != event.calendar:
            log.warning("lifecycle_calendar_mismatch", subscription_row=row.id, calendar=event.calendar)
            return
        step = lifecycle_step(event.kind, known=row is not None)
        log.info("lifecycle_event", kind=event.kind.value, calendar=event.calendar, step=step.value)
        if step == LifecycleStep.RESYNC:
            cause = ResyncCause.MISSED if event.kind == LifecycleKind.MISSED else ResyncCause.REMOVED
            if not await self._publish_resync(event.calendar, event.provider, cause):
                raise RetryLater("the resync hint could not be published")
            return
        if row is None or step == LifecycleStep.IGNORE:
            return
        now = self.clock()
        state = RowState.REMOVED if step == LifecycleStep.RECREATE else None
        await store.mark_due(self.engine, [row.id], now, state)
        await self._act_now(row.id)

    async def _act_now(self, row_id: str) -> None:
        """Act on one row at once (it was just made due); the tick loop retries if this fails."""
        claimed = await claim_one(self.engine, row_id, self.clock(), self.lease)
        if claimed is None:
            return  # another renewer has it
        world = await store.read_world(self.engine)
        watchable = {cid: self.providers(cal) is not None for cid, cal in world.calendars.items()}
        wanted = frozenset(c for c in source_calendars(world.pairs) if watchable.get(c, False))
        await self._guarded(claimed, world.calendars, wanted, TickReport())


async def run_loop(
    tick: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    interval: float,
    on_tick: Callable[[bool], None] = lambda ok: None,
) -> None:
    """Call `tick` every `interval` seconds until `stop` is set; a failed tick is logged and the
    loop goes on (the next tick retries: every decision is re-read from the store)."""
    while not stop.is_set():
        try:
            await tick()
        except Exception as exc:
            log.error("renewer_tick_failed", error=type(exc).__name__)
            on_tick(False)
        else:
            on_tick(True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
