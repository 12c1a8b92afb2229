// The text rules for what one user shows another: usernames, display names and other profile text, and email
// addresses. One module, used by registration, username changes, profile edits and provider sign-ups
// (docs/security.md, Text that lies).
//
// - Everything is normalised to NFC first, so two spellings of "é" are one name and one address.
// - Names and profile text refuse control characters, direction overrides and isolates (U+202A–202E, U+2066–2069,
//   U+200E/F, U+061C), zero-width and other invisible format characters (U+200B–200D, U+2060–2064, U+FEFF, U+00AD,
//   U+034F, the Hangul fillers), private-use characters and lone surrogates: they make a name read differently
//   from what it is ("resU+202Eelif.exe", an "admin" with a zero-width space). Three uses of those characters are
//   real writing and stay allowed: a zero-width joiner between two emoji (👩‍💻), the tag characters of a subdivision
//   flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿), and a zero-width (non-)joiner between two letters of a script that needs it (Persian, Indic scripts).
// - Email addresses refuse every control, format and space character (NUL, zero-width, bidi).
// - Usernames are [a-z0-9_.-]{3,30}, not only punctuation, and not one of RESERVED_USERNAMES, compared without their
//   separators (so "ad.min" and "admin_" are reserved too).

export const USERNAME = /^[a-z0-9_.-]{3,30}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const USERNAME_FORMAT = "3 to 30 characters: lowercase letters, digits, _ . -";
export const RESERVED_MESSAGE = "This username is reserved; choose another";
export const DECEPTIVE_MESSAGE = "Must not contain invisible or direction-changing characters";

/**
 * Names the web app's paths, the API, mail and a community's staff need, or that everyone would read as official.
 * Compared after removing "_", "." and "-" from both sides.
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set(
  [
    // staff, the service and its mailboxes
    "admin",
    "administrator",
    "admins",
    "root",
    "system",
    "sysadmin",
    "superuser",
    "moderator",
    "moderators",
    "mod",
    "mods",
    "staff",
    "owner",
    "owners",
    "team",
    "official",
    "support",
    "help",
    "helpdesk",
    "contact",
    "info",
    "abuse",
    "security",
    "postmaster",
    "webmaster",
    "hostmaster",
    "noreply",
    "no-reply",
    "mailer-daemon",
    "mail",
    "email",
    "bot",
    "bots",
    "sidechain",
    "sidechain-official",
    "sidechain-team",
    "sidechain-staff",
    "sidechain-support",
    "sidechain-app",
    "legal",
    "privacy",
    "terms",
    "tos",
    "dmca",
    "copyright",
    "trust",
    "safety",
    "status",
    // paths of the server and the web app
    "api",
    "app",
    "apps",
    "auth",
    "oauth",
    "callback",
    "docs",
    "openapi",
    "swagger",
    "media",
    "static",
    "assets",
    "cdn",
    ".well-known",
    "well-known",
    "livez",
    "readyz",
    "healthz",
    "health",
    "metrics",
    "ws",
    "websocket",
    "signin",
    "sign-in",
    "signout",
    "sign-out",
    "signup",
    "sign-up",
    "register",
    "login",
    "log-in",
    "logout",
    "log-out",
    "verify-email",
    "reset-password",
    "set-password",
    "forgot-password",
    "not-my-account",
    "device",
    "devices",
    "settings",
    "account",
    "accounts",
    "profile",
    "profiles",
    "user",
    "users",
    "upload",
    "uploads",
    "notifications",
    "search",
    "discover",
    "feed",
    "feeds",
    "timeline",
    "trending",
    "explore",
    "following",
    "followers",
    "posts",
    "post",
    "presence",
    "about",
    "blog",
    "www",
    "google",
    "discord",
    // words clients treat specially
    "null",
    "undefined",
    "none",
    "nil",
    "true",
    "false",
    "everyone",
    "here",
    "channel",
    "all",
    "anonymous",
    "unknown",
  ].map((u) => u.replace(/[._-]/g, "")),
);

// The allowed uses of otherwise invisible characters (see the header), removed before the check.
const EMOJI_ZWJ = /(?<=\p{Extended_Pictographic}[\u{FE0F}\u{1F3FB}-\u{1F3FF}]?)\u200D(?=\p{Extended_Pictographic})/gv;
const FLAG_TAGS = /(?<=\u{1F3F4})[\u{E0061}-\u{E007A}]{2,6}\u{E007F}/gv;
const NON_LCG_LETTER = String.raw`[\p{L}--[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}]]`;
const JOINER_IN_SCRIPT = new RegExp(String.raw`(?<=${NON_LCG_LETTER}\p{M}*)[\u200C\u200D](?=\p{M}*${NON_LCG_LETTER})`, "gv");
const DECEPTIVE = /[\p{Cf}\p{Co}\p{Cs}\u034F\u115F\u1160\u3164\uFFA0]/v;
const DECEPTIVE_ALL = new RegExp(DECEPTIVE.source, "gv");
const CONTROL_SINGLE_LINE = /[\p{Cc}\p{Zl}\p{Zp}]/v;
const CONTROL_MULTI_LINE = /[\p{Cc}--[\t\n\r]]/v;
const CONTROL_ALL = /[\p{Cc}\p{Zl}\p{Zp}]/gv;
const SPACES = /\p{Zs}+/gv;
const NOT_IN_EMAIL = /[\p{C}\p{Z}]/v;

const withoutAllowedJoiners = (s: string) => s.replace(EMOJI_ZWJ, "").replace(FLAG_TAGS, "").replace(JOINER_IN_SCRIPT, "");

/** NFC, trimmed; one line's runs of spaces (any Unicode space) become one plain space. */
export function normalizeText(raw: string, multiLine = false): string {
  const nfc = raw.normalize("NFC");
  return (multiLine ? nfc : nfc.replace(SPACES, " ")).trim();
}

/** Why this (normalised) text is refused as a name or profile field, or null. */
export function textProblem(value: string, multiLine = false): string | null {
  if ((multiLine ? CONTROL_MULTI_LINE : CONTROL_SINGLE_LINE).test(value))
    return multiLine ? "Must not contain control characters" : "Must be one line without control characters";
  if (DECEPTIVE.test(withoutAllowedJoiners(value))) return DECEPTIVE_MESSAGE;
  return null;
}

/** The first `max` characters (code points, never half a surrogate pair). */
export const truncate = (s: string, max: number) => (s.length <= max ? s : [...s].slice(0, max).join(""));

/**
 * A name someone else chose for us (a provider's profile name): cleaned rather than refused. Controls and
 * invisible or direction-changing characters are dropped (allowed joiners kept), spaces made plain, at most `max`.
 */
export function cleanName(raw: string, max: number): string {
  const nfc = raw.normalize("NFC").replace(CONTROL_ALL, " ");
  const keep = new Set<number>();
  // Mark the positions of the allowed joiners, then drop every other deceptive character.
  for (const re of [EMOJI_ZWJ, FLAG_TAGS, JOINER_IN_SCRIPT]) for (const m of nfc.matchAll(re)) for (let i = 0; i < m[0].length; i++) keep.add(m.index + i);
  const cleaned = nfc.replace(DECEPTIVE_ALL, (c, at: number) => (keep.has(at) ? c : ""));
  return truncate(normalizeText(cleaned), max).trim();
}

export const normalizeEmail = (email: string) => email.normalize("NFC").trim().toLowerCase();
export const normalizeUsername = (username: string) => username.normalize("NFC").trim().toLowerCase();

/** Why this normalised email address is refused, or null. */
export function emailProblem(email: string): string | null {
  return EMAIL.test(email) && email.length <= 254 && !NOT_IN_EMAIL.test(email) ? null : "Not a valid email address";
}

export const isReservedUsername = (username: string) => RESERVED_USERNAMES.has(username.replace(/[._-]/g, ""));

/** Why this normalised username is refused (format, or reserved), or null. */
export function usernameProblem(username: string): string | null {
  if (!USERNAME.test(username) || !/[a-z0-9]/.test(username)) return USERNAME_FORMAT;
  if (isReservedUsername(username)) return RESERVED_MESSAGE;
  return null;
}

/** A size as people read it: "684 KB", "1.4 MB", "2 GB" (binary units, at most one decimal). */
export function byteSize(bytes: number): string {
  const [unit, div] = bytes >= 1024 ** 3 ? ["GB", 1024 ** 3] : bytes >= 1024 ** 2 ? ["MB", 1024 ** 2] : ["KB", 1024];
  return `${unit === "KB" ? Math.ceil(bytes / div) : Math.round((bytes / div) * 10) / 10} ${unit}`;
}
