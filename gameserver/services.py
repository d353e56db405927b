"""The services of one process, built once at start-up (the composition root).

Every service gets its collaborators when it is built, in the order below; none is
assigned later and `Services` is frozen (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from valkey.asyncio.cluster import ValkeyCluster

from domain.abuse.limits import AddressLimiter, RateLimit
from domain.abuse.store import AbuseStore
from domain.accounts.identity import IdentityVerifier, parse_providers
from domain.accounts.service import AccountService, ErasureParticipant
from domain.accounts.store import AccountStore
from domain.clock import Clock
from domain.errors import BadRequest
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import MatchmakingStore
from domain.parties.rules import PartyLimits
from domain.parties.service import PartyService
from domain.parties.store import PartyStore
from domain.sessions.presence import PresenceService
from domain.sessions.service import SessionService
from domain.sessions.store import SessionStore
from domain.storage.auto_pipeline import auto_pipeline_for
from domain.storage.shard_calls import ShardCaller
from gameserver.config_file import StartupConfig
from gameserver.figure_history import FigureHistory
from gameserver.gateway.registry import ConnectionRegistry
from gameserver.gateway.upgrade_checks import AllowedOrigins, SocketsPerAddress
from gameserver.http.client_address import ClientAddresses
from gameserver.metrics import Metrics
from gameserver.push.board_schedule import PushPacing
from gameserver.push.board_watch import BoardWatch
from gameserver.push.control import PlayerMessenger
from gameserver.push.hub import PushHub
from gameserver.settings import Settings


class RankedBoardFeed:
    """Matchmaking's ranked-board sink: a player's rating ordinal as their board score."""

    def __init__(self, leaderboards: LeaderboardService) -> None:
        self._leaderboards = leaderboards

    async def check(self, board: str) -> None:
        # Read it afresh: a board created a moment ago through another gateway counts.
        self._leaderboards.invalidate(board)
        found = await self._leaderboards.get_board(board)
        if found.config.operator != "set":
            raise BadRequest(f"ranked_board {board} must be a board with operator set")

    async def submit(self, board: str, player_id: str, score: float) -> None:
        await self._leaderboards.submit(board, player_id, score, trusted=True)


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    cluster: ValkeyCluster
    # The one road to Valkey every feature's store takes (domain/storage/shard_calls.py).
    storage: ShardCaller
    sessions: SessionService
    presence: PresenceService
    accounts: AccountService
    leaderboards: LeaderboardService
    matchmaking: MatchmakingService
    parties: PartyService
    messenger: PlayerMessenger
    # Abuse limits: per address over the cluster (logins), and per gateway (sockets).
    address_limits: AddressLimiter
    client_addresses: ClientAddresses
    sockets_per_address: SocketsPerAddress
    # Admin push sockets that have not sent the admin key yet.
    admin_sockets_awaiting_key: SocketsPerAddress
    allowed_origins: AllowedOrigins
    metrics: Metrics = field(default_factory=Metrics)
    registry: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    # Features holding player data beyond the core ones, told when a player is erased
    # (DELETE /admin/v1/players/{id}); parties join here: PartyService.forget_player.
    erasure_participants: tuple[ErasureParticipant, ...] = ()
    # A gateway's board pushes (over its push hub); None in a worker process.
    board_watch: BoardWatch | None = None
    # The last minutes of the dashboard's charts, sampled by a gateway (gateway/figures.py).
    figure_history: FigureHistory = field(default_factory=FigureHistory)


async def build_services(
    settings: Settings,
    cluster: ValkeyCluster,
    clock: Clock,
    startup: StartupConfig,
    push_hub: PushHub | None = None,
) -> Services:
    """Wire every service of a process and make sure their functions and defaults exist.

    A gateway passes its `push_hub` (its board pushes listen there); a worker has none.
    """
    storage = ShardCaller(cluster, settings.valkey_failover_window_s)
    sessions = SessionService(
        SessionStore(storage, writes=settings.write_policy("sessions")),
        secret=settings.secret,
        clock=clock,
        ttl_s=settings.session_ttl_s,
        token_lifetime_s=settings.token_lifetime_s,
        values_max_bytes=settings.session_values_max_bytes,
    )
    metrics = Metrics()
    metrics.watch_valkey_nodes(auto_pipeline_for(cluster).node_counts)
    accounts = AccountService(
        AccountStore(storage, writes=settings.write_policy("accounts")),
        secret=settings.secret,
        clock=clock,
        identity=IdentityVerifier(parse_providers(settings.auth_providers)),
        dev_login=settings.dev_login,
    )
    leaderboards = LeaderboardService(
        storage,
        clock,
        settings.write_policy("scores"),
        default_boards=[BoardConfig.from_mapping(raw) for raw in startup.boards],
        on_refused=metrics.count_refused_write,
    )
    messenger = PlayerMessenger(sessions)
    parties = PartyService(
        PartyStore(storage, writes=settings.write_policy("parties")),
        clock,
        events=messenger,
        limits=PartyLimits(invite_ttl_s=settings.party_invite_ttl_s),
    )
    matchmaking = MatchmakingService(
        MatchmakingStore(storage, writes=settings.write_policy("matches")),
        clock,
        sessions=sessions,
        parties=parties,
        boards=RankedBoardFeed(leaderboards),
        queues=[QueueConfig.from_dict(raw) for raw in startup.queues],
    )
    presence = PresenceService(sessions, matches=matchmaking)
    board_watch = None
    if push_hub is not None:
        board_watch = BoardWatch(
            leaderboards,
            push_hub,
            metrics,
            PushPacing(settings.rank_push_interval_s, settings.top_push_interval_s),
            names=accounts,
        )
    address_limits = AddressLimiter(
        AbuseStore(storage),
        {"login": RateLimit(settings.login_rate_per_s, settings.login_burst)},
    )
    await address_limits.ensure_ready()
    await sessions.ensure_ready()
    await accounts.ensure_ready()
    await leaderboards.ensure_ready()
    await matchmaking.ensure_ready()
    await parties.ensure_ready()
    return Services(
        settings=settings,
        clock=clock,
        cluster=cluster,
        storage=storage,
        sessions=sessions,
        presence=presence,
        accounts=accounts,
        leaderboards=leaderboards,
        matchmaking=matchmaking,
        parties=parties,
        messenger=messenger,
        metrics=metrics,
        erasure_participants=(parties,),
        address_limits=address_limits,
        client_addresses=ClientAddresses(settings.trusted_proxies),
        sockets_per_address=SocketsPerAddress(settings.max_sockets_per_address),
        admin_sockets_awaiting_key=SocketsPerAddress(
            settings.max_admin_sockets_awaiting_key_per_address
        ),
        allowed_origins=AllowedOrigins(settings.allowed_origins),
        board_watch=board_watch,
    )
