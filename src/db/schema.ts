// The database schema (drizzle). `npm run db:generate` turns changes here into a new SQL migration in drizzle/.
// Conventions (docs/architecture.md "Data rules"): ids are our own UUIDv7 strings, timestamps are integer ms.
import { sql } from "drizzle-orm";
import { type AnySQLiteColumn, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Facts about this installation (e.g. its id), written once at first start. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * The community's settings, edited by its owner (src/system/settings.ts): one row per setting, its value as JSON.
 * A setting without a row has its default from the environment (INSTANCE_NAME, ...).
 */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * The durable job queue (src/jobs/queue.ts). A job is claimed by setting a lease; a worker that dies lets its
 * lease expire and another instance picks the job up again. `dedupe_key` makes enqueueing idempotent.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    payload: text("payload", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    /** queued | running | done | failed */
    status: text("status").notNull().default("queued"),
    dedupeKey: text("dedupe_key").unique(),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAt: integer("run_at").notNull(),
    leaseUntil: integer("lease_until"),
    lockedBy: text("locked_by"),
    progress: integer("progress").notNull().default(0),
    lastError: text("last_error"),
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("jobs_claim_idx").on(t.status, t.runAt), index("jobs_lease_idx").on(t.status, t.leaseUntil)],
);

// ── Accounts. The rules of docs/security.md, Account linking (L1–L9), live in src/auth/identity.ts. ──

/** Emails and usernames are stored lower-cased, so the plain unique constraints are case-insensitive. */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").unique(),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    username: text("username").notNull().unique(),
    displayName: text("display_name").notNull().default(""),
    passwordHash: text("password_hash"),
    bio: text("bio").notNull().default(""),
    location: text("location").notNull().default(""),
    genre: text("genre").notNull().default(""),
    daw: text("daw").notNull().default(""),
    website: text("website").notNull().default(""),
    socialLinks: text("social_links", { mode: "json" }).notNull().$type<Record<string, string>>().default({}),
    avatarKey: text("avatar_key"),
    showActivityStatus: integer("show_activity_status", { mode: "boolean" }).notNull().default(true),
    followerCount: integer("follower_count").notNull().default(0),
    followingCount: integer("following_count").notNull().default(0),
    /** Ready posts only. */
    postCount: integer("post_count").notNull().default(0),
    lastActiveAt: integer("last_active_at"),
    /** owner, moderator or member (docs/security.md "Roles and staff actions"); the first account is the owner. */
    role: text("role").notNull().default("member"),
    /** Set while staff have suspended the account: sign-in refused, sessions gone, loops withheld. */
    suspendedAt: integer("suspended_at"),
    suspensionReason: text("suspension_reason").notNull().default(""),
    /** A member's own upload quotas set by staff; null takes the community's (README "Upload quotas"). */
    uploadQuotaPerDay: integer("upload_quota_per_day"),
    uploadQuotaMb: integer("upload_quota_mb"),
    /**
     * `approved`, or `pending` while a sign-up in approval mode waits for staff (README "Invites and approval"): no
     * sign-in, invisible to everyone but staff. A rejected sign-up is deleted.
     */
    approval: text("approval").notNull().default("approved"),
    /** What the applicant wrote when asking to join (approval mode), at most 500 characters. */
    signupNote: text("signup_note").notNull().default(""),
    /**
     * The invite the account joined through (who invited whom); null without one. No foreign key (SQLite cannot add
     * one with ON DELETE to an existing table): an invite deleted with its maker leaves an id that joins to nothing.
     */
    inviteId: text("invite_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("users_approval_idx").on(t.approval, t.createdAt),
    // Discover's popular producers (src/discover/sql.ts): most followed first, read in index order.
    index("users_popular_idx").on(t.followerCount, t.id),
  ],
);

/**
 * Invite links (README "Invites and approval"): made by staff, or by members while the owner allows it. The code
 * is a bearer secret shown once at creation; only its SHA-256 is stored. Using one is a conditional UPDATE of
 * `uses` in the new account's transaction. Deleted with its maker (the accounts that joined keep no link to it).
 */
export const invites = sqliteTable(
  "invites",
  {
    id: text("id").primaryKey(),
    codeHash: text("code_hash").notNull().unique(),
    creatorId: text("creator_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    maxUses: integer("max_uses").notNull(),
    uses: integer("uses").notNull().default(0),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("invites_creator_idx").on(t.creatorId, t.createdAt)],
);

/**
 * What staff did (docs/security.md "Roles and staff actions"): who (a user, or the command line), what, to whom,
 * why, when. Written in the transaction of the action; never updated or deleted by the server.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    /** The staff member, or null for the command line (actor then says "cli"). Kept when the account goes. */
    actorId: text("actor_id"),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    /** The target's name at the time (a username), readable after the target is gone. */
    targetLabel: text("target_label").notNull().default(""),
    reason: text("reason").notNull().default(""),
    details: text("details", { mode: "json" }).notNull().$type<Record<string, unknown>>().default({}),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("audit_log_created_idx").on(t.createdAt, t.id)],
);

/** L1: a provider identity is keyed by (provider, provider_user_id); its email is only a hint on first sign-in. */
export const identities = sqliteTable(
  "identities",
  {
    id: text("id").primaryKey(),
    provider: text("provider").notNull(),
    providerUserId: text("provider_user_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    email: text("email"),
    linkedAt: integer("linked_at").notNull(),
  },
  (t) => [uniqueIndex("identities_provider_subject").on(t.provider, t.providerUserId), uniqueIndex("identities_user_provider").on(t.userId, t.provider)],
);

/** A signed-in device. Access tokens name the session (sid); every request checks it is still live. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at").notNull(),
    /** Sliding expiry (30 days of inactivity). */
    expiresAt: integer("expires_at").notNull(),
    /** Hard cap (90 days after sign-in). */
    absoluteExpiresAt: integer("absolute_expires_at").notNull(),
    /** When the user last proved a credential in this session (L6: recent authentication). */
    authenticatedAt: integer("authenticated_at").notNull(),
    userAgent: text("user_agent").notNull().default(""),
    ip: text("ip").notNull().default(""),
    refreshTokenHash: text("refresh_token_hash").notNull().unique(),
    /** The hash the last rotation replaced: presenting it again is reuse, which revokes the session. */
    previousRefreshHash: text("previous_refresh_hash"),
    /** The `jti` of the session's newest access token: the only one that may be traded by POST /auth/refresh {token}. */
    accessTokenId: text("access_token_id"),
    /** The `jti` of the access token last traded away: presenting it again is reuse, which revokes the session. */
    previousAccessTokenId: text("previous_access_token_id"),
    revokedAt: integer("revoked_at"),
    revokeReason: text("revoke_reason"),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_prev_refresh_idx").on(t.previousRefreshHash)],
);

/** Emailed one-time tokens: stored as SHA-256, single use, purpose-bound, newest-only. */
export const oneTimeTokens = sqliteTable(
  "one_time_tokens",
  {
    id: text("id").primaryKey(),
    purpose: text("purpose").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** e.g. the address a verification token proves. */
    email: text("email"),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("one_time_tokens_user_idx").on(t.userId, t.purpose)],
);

/**
 * Sign-ins that finish in another place: the plugin's browser flow (id = its session_id) and RFC 8628 device
 * codes (id = hash of the device code). Tokens are minted when the result is handed out, never stored.
 */
export const signInRequests = sqliteTable("sign_in_requests", {
  id: text("id").primaryKey(),
  kind: text("kind").notNull(),
  /** pending | approved | denied | error | consumed */
  status: text("status").notNull().default("pending"),
  userCode: text("user_code").unique(),
  userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
  message: text("message"),
  intervalS: integer("interval_s").notNull().default(5),
  lastPollAt: integer("last_poll_at"),
  /** When the approving browser session last proved a credential: the session minted for the device inherits it (L6). */
  authenticatedAt: integer("authenticated_at"),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * The web app's WebSocket tickets already used (src/auth/ws-token.ts): a ticket's `jti` is inserted when the hub
 * takes it, so a second use fails on the primary key on every instance. Rows go once the ticket has expired.
 */
export const usedWsTokens = sqliteTable(
  "used_ws_tokens",
  {
    jti: text("jti").primaryKey(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("used_ws_tokens_expires_idx").on(t.expiresAt)],
);

/** Mail waiting for SMTP, or kept for `sidechain mail list` when no SMTP server is configured. */
export const mailOutbox = sqliteTable(
  "mail_outbox",
  {
    id: text("id").primaryKey(),
    to: text("to").notNull(),
    subject: text("subject").notNull(),
    text: text("text").notNull(),
    html: text("html").notNull(),
    /** queued | sent | failed | kept (no SMTP configured) */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    sentAt: integer("sent_at"),
  },
  (t) => [index("mail_outbox_created_idx").on(t.createdAt)],
);

// ── Loops (issue: upload and audio pipeline). A post is created `processing` by the upload and becomes `ready`
// when the process-loop job has stored its media, or `failed` with the reason. ──
export const posts = sqliteTable(
  "posts",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** processing | ready | failed */
    status: text("status").notNull(),
    error: text("error"),
    errorCode: text("error_code"),
    /** Display title (the plugin's `filename`); never used in a storage key. */
    title: text("title").notNull().default(""),
    bpm: real("bpm"),
    key: text("key").notNull().default(""),
    daw: text("daw").notNull().default(""),
    genres: text("genres", { mode: "json" }).notNull().$type<string[]>().default([]),
    durationBars: integer("duration_bars"),
    commentAudience: text("comment_audience").notNull().default("everyone"),
    /** The plugin's recording id, or an Idempotency-Key header: a retried upload returns the same post. */
    recordingId: text("recording_id"),
    idempotencyKey: text("idempotency_key"),
    originalKey: text("original_key").notNull(),
    originalFormat: text("original_format").notNull(),
    originalBytes: integer("original_bytes").notNull(),
    audioKey: text("audio_key").notNull(),
    peaksKey: text("peaks_key").notNull(),
    waveformKey: text("waveform_key").notNull(),
    /**
     * The renditions the plugin reads (docs/plugin-contract.md "Posts"): Ogg Vorbis for `audio_url` and a PNG for
     * `waveform_url`. Null on posts made before they existed, until the add-renditions job (src/audio/renditions.ts)
     * has stored them; until then the post's audio_url is the MP3 and its waveform_url the SVG.
     */
    oggKey: text("ogg_key"),
    waveformPngKey: text("waveform_png_key"),
    /**
     * The share card (docs/architecture.md "Share cards"): a 1200×630 PNG for og:image, drawn by the loop's job and
     * redrawn when the producer's username changes. Null until drawn: the share page then shows the waveform PNG.
     */
    cardKey: text("card_key"),
    /** Measured on the delivered MP3. */
    loudnessLufs: real("loudness_lufs"),
    truePeakDb: real("true_peak_db"),
    durationSeconds: real("duration_seconds"),
    sampleCount: integer("sample_count"),
    sampleRate: integer("sample_rate"),
    channels: integer("channels"),
    /** What normalization did: "linear" gain or "limiter". */
    gainMode: text("gain_mode"),
    inputLufs: real("input_lufs"),
    likeCount: integer("like_count").notNull().default(0),
    playCount: integer("play_count").notNull().default(0),
    /** Downloads through GET /posts/{id}/download (the plugin's "save to DAW folder"), kept like play_count. */
    downloadCount: integer("download_count").notNull().default(0),
    /** How many members saved the loop (social/saves.ts), rewritten from the rows in the change's transaction. */
    saveCount: integer("save_count").notNull().default(0),
    /** How many members reposted the loop (social/reposts.ts), rewritten from the rows in the change's transaction. */
    repostCount: integer("repost_count").notNull().default(0),
    /** 1..3 while the producer has the loop pinned to their profile (posts/pins.ts), in the order shown; null otherwise. */
    pinOrder: integer("pin_order"),
    commentCount: integer("comment_count").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    readyAt: integer("ready_at"),
  },
  (t) => [
    uniqueIndex("posts_user_recording").on(t.userId, t.recordingId),
    uniqueIndex("posts_user_idempotency").on(t.userId, t.idempotencyKey),
    // Chronological feeds; user_id last so the timeline filters by author from the index alone.
    index("posts_feed_author_idx").on(t.status, t.createdAt, t.id, t.userId),
    index("posts_user_feed_idx").on(t.userId, t.status, t.createdAt, t.id),
    // The owner's own list (every status), newest first, without a sort.
    index("posts_user_created_idx").on(t.userId, t.createdAt, t.id),
    index("posts_pinned_idx").on(t.userId, t.pinOrder).where(sql`pin_order IS NOT NULL`),
  ],
);

// ── Social (issue: profiles, follows, feeds, reactions, plays, notifications). Counters live on users/posts and are
// changed in the same transaction as the rows they count, so they never drift. ──

export const follows = sqliteTable(
  "follows",
  {
    followerId: text("follower_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    followeeId: text("followee_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    index("follows_followee_idx").on(t.followeeId, t.createdAt),
    // "following" lists, newest first, without a temporary sort
    index("follows_follower_idx").on(t.followerId, t.createdAt),
  ],
);

/**
 * Blocks (social/blocks.ts): `blocker_id` blocked `blocked_id`. While the row exists the two see nothing of each other
 * (feeds, profiles, loops, presence, notifications, WebSocket events) and neither can follow the other. The primary key
 * answers "whom I block" and the pair check; blocks_blocked_idx answers "who blocks me".
 */
export const blocks = sqliteTable(
  "blocks",
  {
    blockerId: text("blocker_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    blockedId: text("blocked_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index("blocks_blocked_idx").on(t.blockedId, t.blockerId)],
);

/**
 * Saved loops (social/saves.ts): a member's private list. The primary key answers "did I save it" for a page of posts;
 * saves_user_idx lists a member's saves newest first. Deleted with the loop or the member.
 */
export const saves = sqliteTable(
  "saves",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    postId: text("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] }), index("saves_user_idx").on(t.userId, t.createdAt, t.postId)],
);

/**
 * Reposts (social/reposts.ts): a member shares someone else's loop with their followers, once per loop, with an
 * optional quote. The primary key answers "did I repost it" for a page of posts; reposts_user_idx is the timeline's
 * stream of a followee's reposts newest first (and the export); reposts_post_idx lists who reposted a loop and finds
 * its most recent repost by a followee; reposts_created_idx tells the timeline whether any repost is below its cursor
 * at all. Deleted with the loop or the member.
 */
export const reposts = sqliteTable(
  "reposts",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    postId: text("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    quote: text("quote").notNull().default(""),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.postId] }),
    index("reposts_user_idx").on(t.userId, t.createdAt, t.postId),
    index("reposts_post_idx").on(t.postId, t.createdAt, t.userId),
    index("reposts_created_idx").on(t.createdAt, t.postId),
  ],
);

/** Mutes (social/blocks.ts): `muter_id` no longer sees `muted_id`'s loops in their feeds; nothing else changes. */
export const mutes = sqliteTable(
  "mutes",
  {
    muterId: text("muter_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    mutedId: text("muted_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.muterId, t.mutedId] })],
);

/** One reaction per user per post (a new emoji replaces the old one). */
export const reactions = sqliteTable(
  "reactions",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    postId: text("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] }), index("reactions_post_idx").on(t.postId, t.emoji)],
);

/**
 * Comments on a loop (social/comments.ts; README "Comments"): one level of replies (`parent_id` names a top-level
 * comment of the same post; a reply's replies attach to its top-level comment). Deleting a comment deletes its replies
 * (ON DELETE CASCADE), and the post's comment_count is rewritten from these rows in the same transaction as every change.
 */
export const comments = sqliteTable(
  "comments",
  {
    id: text("id").primaryKey(),
    postId: text("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The top-level comment this one replies to; null for a top-level comment. */
    parentId: text("parent_id").references((): AnySQLiteColumn => comments.id, { onDelete: "cascade" }),
    content: text("content").notNull(),
    /** A moment of the loop (0..duration), in ms; null when the comment is about the whole loop. */
    atMs: integer("at_ms"),
    likeCount: integer("like_count").notNull().default(0),
    replyCount: integer("reply_count").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    editedAt: integer("edited_at"),
  },
  (t) => [
    // a loop's top-level comments (parent_id IS NULL) and a comment's replies, in order, without a sort
    index("comments_post_idx").on(t.postId, t.parentId, t.createdAt, t.id),
    index("comments_parent_idx").on(t.parentId, t.createdAt, t.id),
    // the author's own comments (data export, account deletion)
    index("comments_user_idx").on(t.userId, t.createdAt),
  ],
);

/** One like per user per comment; comments.like_count counts them. */
export const commentLikes = sqliteTable(
  "comment_likes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    commentId: text("comment_id")
      .notNull()
      .references(() => comments.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.commentId] }), index("comment_likes_comment_idx").on(t.commentId)],
);

/** Counted plays: one per listener per post per 30 minutes. */
export const plays = sqliteTable(
  "plays",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    postId: text("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    listenMs: integer("listen_ms"),
  },
  (t) => [index("plays_listener_idx").on(t.postId, t.userId, t.createdAt), index("plays_recent_idx").on(t.createdAt, t.postId)],
);

export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    actorId: text("actor_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** follow | reaction | new_post | comment | reply | mention */
    kind: text("kind").notNull(),
    postId: text("post_id").references(() => posts.id, { onDelete: "cascade" }),
    /**
     * The comment of a comment, reply or mention notification. No foreign key (SQLite cannot add one with ON DELETE to
     * an existing table): deleting a comment deletes its notifications in the same transaction (social/comments.ts),
     * and its author's or post's deletion takes them through actor_id and post_id.
     */
    commentId: text("comment_id"),
    emoji: text("emoji"),
    /** Repeats of the same event (react, unreact, react) update one notification instead of adding more. */
    dedupeKey: text("dedupe_key").notNull().unique(),
    createdAt: integer("created_at").notNull(),
    seenAt: integer("seen_at"),
    readAt: integer("read_at"),
  },
  (t) => [
    index("notifications_user_idx").on(t.userId, t.createdAt, t.id),
    // the plugin's unseen/unread counts, polled every 30 s: prefixes of one index
    index("notifications_unread_idx").on(t.userId, t.readAt, t.seenAt),
    // the hourly pruning of old notifications (social/notifications.ts) reads the oldest first
    index("notifications_created_idx").on(t.createdAt),
    // a deleted comment's notifications are found without a scan
    index("notifications_comment_idx").on(t.commentId).where(sql`comment_id IS NOT NULL`),
  ],
);

/**
 * Reports of a loop or a user, by a member to the staff (docs/security.md "Roles and staff actions"). One open
 * report per reporter and target; closed by staff (dismissed or acted on), which tells the reporter.
 */
export const reports = sqliteTable(
  "reports",
  {
    id: text("id").primaryKey(),
    /** Null once the reporter's account is gone (the report stays for the staff). */
    reporterId: text("reporter_id").references(() => users.id, { onDelete: "set null" }),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    /** The reported loop's producer, or the reported user; null once gone. */
    targetUserId: text("target_user_id").references(() => users.id, { onDelete: "set null" }),
    /** What the target was called at the time (a loop's title, a username): readable after it is gone. */
    targetLabel: text("target_label").notNull().default(""),
    reason: text("reason").notNull(),
    note: text("note").notNull().default(""),
    status: text("status").notNull().default("open"),
    /** dismissed, loop_removed or user_suspended: what staff did. */
    resolution: text("resolution").notNull().default(""),
    resolvedBy: text("resolved_by").notNull().default(""),
    resolutionNote: text("resolution_note").notNull().default(""),
    resolvedAt: integer("resolved_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("reports_status_idx").on(t.status, t.createdAt, t.id),
    uniqueIndex("reports_one_open_idx").on(t.reporterId, t.targetType, t.targetId).where(sql`status = 'open'`),
  ],
);

/**
 * Discover's index (README "Discover"; src/discover/sql.ts): one row per genre of each ready loop, with what the
 * similar-loops rule compares. Kept by triggers on search_posts (drizzle/0025_discover_triggers.sql, hand-written:
 * drizzle cannot express triggers), so it changes in the transaction that changes the loop and holds exactly the
 * loops search finds (ready, producer neither suspended nor pending). `genre` is lower(trim()) of the loop's genre;
 * `doc_id` is the loop's search_posts doc_id (publication order); `key_class` is the pitch class of the key's relative
 * major (A minor and C major are both 0), null for an unknown key, so "the same key or its relative" is one value.
 */
export const postGenres = sqliteTable(
  "post_genres",
  {
    genre: text("genre").notNull(),
    docId: integer("doc_id").notNull(),
    postId: text("post_id").notNull(),
    userId: text("user_id").notNull(),
    keyClass: integer("key_class"),
    bpm: real("bpm"),
  },
  (t) => [
    // Loops of a genre, newest published first, from the index alone.
    uniqueIndex("post_genres_genre_idx").on(t.genre, t.docId, t.userId, t.postId),
    // Similar loops: a range of BPM within a genre and key class, from the index alone.
    index("post_genres_similar_idx").on(t.genre, t.keyClass, t.bpm, t.docId, t.userId, t.postId),
    index("post_genres_post_idx").on(t.postId),
  ],
);

// ── Stories (README "Stories"; src/stories/*): short audio clips that disappear 24 h after they are posted, unless
// their producer keeps them in a highlight. ──

/**
 * A story: processed by the loops' audio pipeline (process-story, src/stories/process.ts) into the same renditions,
 * stored under stories/<user id>/<story id>/. `expires_at` is created_at + 24 h; the expire-story job (due then)
 * deletes the row and its media unless the story is in a highlight. stories_author_idx answers the stories feed
 * (each followed author's live stories) and a user's stories.
 */
export const stories = sqliteTable(
  "stories",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** processing | ready | failed */
    status: text("status").notNull(),
    errorCode: text("error_code"),
    error: text("error"),
    /** Display title (the plugin's `filename`). */
    title: text("title").notNull().default(""),
    bpm: real("bpm"),
    key: text("key").notNull().default(""),
    genres: text("genres", { mode: "json" }).notNull().$type<string[]>().default([]),
    /** The plugin's MIDI events for its piano roll (a JSON object), null without. */
    midiData: text("midi_data", { mode: "json" }).$type<Record<string, unknown>>(),
    /** An Idempotency-Key header: a retried upload returns the same story. */
    idempotencyKey: text("idempotency_key"),
    originalKey: text("original_key").notNull(),
    originalFormat: text("original_format").notNull(),
    originalBytes: integer("original_bytes").notNull(),
    audioKey: text("audio_key").notNull(),
    oggKey: text("ogg_key").notNull(),
    peaksKey: text("peaks_key").notNull(),
    waveformKey: text("waveform_key").notNull(),
    waveformPngKey: text("waveform_png_key").notNull(),
    durationSeconds: real("duration_seconds"),
    /** Distinct viewers other than the producer (story_views rows), changed in the view's transaction. */
    viewCount: integer("view_count").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("stories_author_idx").on(t.userId, t.status, t.expiresAt, t.createdAt), uniqueIndex("stories_user_idempotency").on(t.userId, t.idempotencyKey)],
);

/** Who viewed a story, once per viewer (the primary key); story_views_story_idx lists them newest first. */
export const storyViews = sqliteTable(
  "story_views",
  {
    storyId: text("story_id")
      .notNull()
      .references(() => stories.id, { onDelete: "cascade" }),
    viewerId: text("viewer_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    viewedAt: integer("viewed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.storyId, t.viewerId] }), index("story_views_story_idx").on(t.storyId, t.viewedAt)],
);

/** A producer's named collection of stories kept past their 24 h, shown on their profile (the plugin's highlights). */
export const storyHighlights = sqliteTable(
  "story_highlights",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    sortOrder: integer("sort_order").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("story_highlights_user_idx").on(t.userId, t.sortOrder, t.createdAt)],
);

/** The stories of a highlight; highlight_stories_story_idx answers "is this story kept by any highlight". */
export const highlightStories = sqliteTable(
  "highlight_stories",
  {
    highlightId: text("highlight_id")
      .notNull()
      .references(() => storyHighlights.id, { onDelete: "cascade" }),
    storyId: text("story_id")
      .notNull()
      .references(() => stories.id, { onDelete: "cascade" }),
    addedAt: integer("added_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.highlightId, t.storyId] }), index("highlight_stories_story_idx").on(t.storyId, t.highlightId)],
);
