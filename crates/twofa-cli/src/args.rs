//! The command line as clap reads it, and nothing else: every type here is a clap type, and no
//! module of the CLI is imported from here (settings, commands and output import this).

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  usage or configuration error (including no way to read a password or code)
  3  credentials, app key, API key or company rejected (also a locked account or an expired password)
  4  second factor (verification code or security PIN) rejected, or the challenge expired, after all attempts
  5  network, server or unexpected response
  6  rate limited (the message says when to retry)";

/// Log in to brokerage and ordering APIs that demand a second factor, and hand the token to scripts.
#[derive(Debug, Parser)]
#[command(name = "twofa", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where sessions and profiles are kept [default: $TWOFA_HOME, else the platform data directory]
    #[arg(long, global = true, env = "TWOFA_HOME", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// Log more to standard error: -v for debug, -vv for trace (secrets are never logged). RUST_LOG, when set, wins
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Log nothing but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Output format: text for people, JSON for scripts (errors too: one JSON object on standard error)
    #[arg(long, global = true, value_enum, default_value_t)]
    pub format: Format,
    /// Time limit of each request, in seconds
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// Time limit of one whole login, renewal or logout, in seconds, retries included (time spent
    /// typing a code does not count)
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub deadline: u64,
    /// Append one JSON line per login, renewal, resume, logout and token hand-out to this file
    /// (0600, rotated by size; tokens only as fingerprints): read it with `twofa audit`
    #[arg(long, global = true, env = "TWOFA_AUDIT_FILE", value_name = "PATH")]
    pub audit_file: Option<PathBuf>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and store the session under a profile
    #[command(after_help = EXIT_CODES)]
    Login {
        /// The backend to log in to.
        #[command(subcommand)]
        provider: Box<Provider>,
    },
    /// Finish a login started with `login … --no-wait`, with the code that arrived meanwhile
    #[command(after_help = "Examples:
  twofa login onlineordering … --email me@example.com --no-wait   # sends the code, exits
  twofa verify --profile onlineordering --code 123456
  twofa verify --profile onlineordering --code-stdin < code.txt")]
    Verify {
        /// The profile the login was started under
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// The verification code
        #[arg(long, value_name = "CODE", required_unless_present = "code_stdin", conflicts_with = "code_stdin")]
        code: Option<String>,
        /// Read the verification code from the first line of standard input
        #[arg(long)]
        code_stdin: bool,
    },
    /// Print the current access token, renewing it first if needed
    #[command(after_help = "Examples:
  twofa token --profile etna --format curl | curl -K - https://…/api/v1.0/users/me
  curl -H \"$(twofa token --profile oms --header)\" https://…     # one header: the OMS
  twofa token --profile etna --format json   # {version, provider, profile, access_token, headers, expires_at, …}
  eval \"$(twofa token --profile etna --format env)\"; echo \"$TWOFA_EXPIRES_AT\"")]
    Token {
        /// The profile
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// Print every header the API needs, one `Name: value` a line, instead of the bare token
        #[arg(long)]
        header: bool,
    },
    /// Run a command with the profiles' tokens and headers in its environment, and exit with its code
    #[command(after_help = "Examples:
  twofa exec --profile etna -- python bot.py            # TWOFA_ACCESS_TOKEN, TWOFA_HEADERS (JSON), TWOFA_EXPIRES_AT
  twofa exec --profile etna --profile oms -- ./sync.sh  # TWOFA_ETNA_ACCESS_TOKEN, TWOFA_OMS_HEADERS, …
  twofa exec --profile etna --headers-file ~/.twofa-run/etna.json --signal-on-renew hup -- ./daemon
  twofa exec --profile etna --restart-on-renew -- ./job  # restarted with fresh variables at each renewal
  twofa exec --profile etna --proxy -- python bot.py     # TWOFA_PROXY_URL: a base URL that needs no credential")]
    Exec(Box<ExecArgs>),
    /// List stored profiles: provider, subject, expiry, renewal (never a secret)
    #[command(after_help = "Example:
  twofa status
  PROFILE  PROVIDER  SUBJECT         EXPIRES IN  RENEWABLE
  etna     etna      username=alice  23h 59m     re-login")]
    Status,
    /// End a session at the provider and forget it
    #[command(after_help = "Examples:
  twofa logout --profile etna
  twofa logout --all")]
    Logout {
        /// The profile
        #[arg(long, value_name = "NAME", required_unless_present = "all", conflicts_with = "all")]
        profile: Option<String>,
        /// Every stored profile
        #[arg(long)]
        all: bool,
    },
    /// Exchange OMS tools: the API keys bots log in with, made once after a 2FA login
    Oms {
        /// What to do.
        #[command(subcommand)]
        command: OmsCommand,
    },
    /// Run the simulator of all three backends on loopback until Ctrl-C
    #[cfg(feature = "sandbox")]
    #[command(after_help = sandbox_after_help())]
    Sandbox {
        /// The port [default: any free port]
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Answer with another reading where the documents are silent or disagree (repeatable;
        /// the variants are listed below)
        #[arg(long = "variant", value_name = "KEY=VALUE")]
        variants: Vec<twofa_sandbox::variants::Assignment>,
    },
    /// Serve the web console where a person types the codes headless bots wait for, and logs
    /// profiles in and out
    #[cfg_attr(
        feature = "sandbox",
        command(after_help = "Examples:
  twofa serve                          # http://127.0.0.1:PORT/?token=… on loopback
  twofa serve --sandbox                # the whole flow against the simulator, with a demo bot
  twofa serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem")
    )]
    #[cfg_attr(
        not(feature = "sandbox"),
        command(after_help = "Examples:
  twofa serve                          # http://127.0.0.1:PORT/?token=… on loopback
  twofa serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem")
    )]
    Serve(Box<ServeArgs>),
    /// Print the audit trail (`--audit-file` or TWOFA_AUDIT_FILE), oldest first, filtered
    #[command(after_help = "Examples:
  twofa audit                                   # every line of $TWOFA_AUDIT_FILE and its rotated files
  twofa audit --profile etna --since 24h        # one profile, the last day
  twofa audit --outcome error --format json     # every failure, one JSON object a line")]
    Audit(AuditArgs),
    /// Run a local reverse proxy to the profile's API that adds the session's headers: any client
    /// changes only its base URL, and needs no credential
    #[command(after_help = "Examples:
  twofa proxy --profile etna                       # prints twofa proxy: http://127.0.0.1:PORT/<token>/
  twofa proxy --profile etna --url-file ~/.etna-proxy-url   # the base URL in a 0600 file instead
  twofa proxy --profile etna --unix /run/user/1000/etna.sock  # curl --unix-socket …; no token needed
  curl \"$(cat ~/.etna-proxy-url)v1.0/users/me\"   # no Authorization, no Et-App-Key")]
    Proxy(Box<ProxyArgs>),
    /// Print a shell completion script
    #[command(after_help = "Examples:
  source <(twofa completions bash)
  twofa completions zsh > \"${fpath[1]}/_twofa\"
  twofa completions fish > ~/.config/fish/completions/twofa.fish")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff)
    #[command(after_help = "Example:
  twofa manpage > /usr/local/share/man/man1/twofa.1 && man twofa")]
    Manpage,
    /// Print the current TOTP code of a seed and how long it stays valid
    #[command(after_help = "Example:
  TOTP_SEED=JBSWY3DPEHPK3PXP twofa totp --secret-env TOTP_SEED")]
    Totp {
        /// The variable holding the base32 seed or an otpauth:// URI
        #[arg(long, value_name = "VAR")]
        secret_env: String,
    },
}

/// The backends `login` knows.
#[derive(Debug, Subcommand)]
pub enum Provider {
    /// ETNA Trader / AutoShares
    #[command(after_help = "Examples:
  export ET_APP_KEY=… ETNA_PASSWORD=…
  twofa login etna --base-url https://pub-api-et-demo-prod.etnasoft.us/api \\
      --app-key-env ET_APP_KEY --username trader1 --password-env ETNA_PASSWORD
  # an account with a security PIN: sent when the server asks for it (else it is prompted for)
  export ETNA_PIN=…
  twofa login etna --base-url https://pub-api-et-demo-prod.etnasoft.us/api \\
      --app-key-env ET_APP_KEY --username trader1 --password-env ETNA_PASSWORD --pin-env ETNA_PIN")]
    Etna {
        /// The API base, ending in /api (`/token` is appended)
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// The variable holding the Et-App-Key
        #[arg(long, value_name = "VAR")]
        app_key_env: String,
        /// The user's login
        #[arg(long)]
        username: String,
        /// The variable holding the user's security PIN, sent when the server asks for it
        /// [default: prompt when asked] (kept in the profile by name, so `token` can log in again)
        #[arg(long, value_name = "VAR")]
        pin_env: Option<String>,
        /// Run this command (an argv, no shell: `pass show etna-pin`) for the security PIN when the
        /// server asks for it; its first line is the PIN. Kept in the profile, like --pin-env
        #[arg(long, value_name = "COMMAND", conflicts_with = "pin_env")]
        pin_command: Option<String>,
        /// How long the server's tokens live, in seconds: ETNA's answer does not say, and its
        /// documents give 24 h and 60 min. Sessions are renewed this long after each login
        /// (a 401 renews sooner whatever the clock says) [default: 86400]
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        token_lifetime: Option<u64>,
        /// The flags every login takes.
        #[command(flatten)]
        common: Common,
    },
    /// Exchange OMS (AlphaPoint APEX and white labels)
    #[command(after_help = "Examples:
  twofa login oms --url wss://apex.example/WSGateway --username trader1 --totp-secret-env OMS_TOTP
  twofa login oms --url https://apex.example --username trader1     # the HTTP gateway
  export OMS_API_KEY=… OMS_API_SECRET=…                             # a trading bot: no 2FA
  twofa login oms --url wss://apex.example/WSGateway --user-id 96 \\
      --api-key-env OMS_API_KEY --api-secret-env OMS_API_SECRET")]
    Oms {
        /// wss://host/WSGateway (the full gateway URL) or https://host (the root before /AP/)
        #[arg(long, value_name = "URL")]
        url: String,
        /// The transport [default: from the URL's scheme]
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// The user's login (or log in with an API key instead: --api-key-env)
        #[arg(long, required_unless_present = "api_key_env")]
        username: Option<String>,
        /// Log in with the API key in this variable instead of a username and password (no second
        /// factor); needs --api-secret-env and --user-id. The profile keeps the variables' names
        #[arg(
            long,
            value_name = "VAR",
            requires_all = ["api_secret_env", "user_id"],
            conflicts_with_all = ["username", "password_env", "password_stdin", "password_keyring"]
        )]
        api_key_env: Option<String>,
        /// The variable holding the API secret that signs the API-key login
        #[arg(long, value_name = "VAR", requires = "api_key_env")]
        api_secret_env: Option<String>,
        /// The user id the API key belongs to
        #[arg(long, value_name = "N", requires = "api_key_env")]
        user_id: Option<u64>,
        /// The flags every login takes.
        #[command(flatten)]
        common: Common,
    },
    /// NCR Aloha Online Ordering
    #[command(after_help = "Example:
  export NCR_API=integrator:secret
  twofa login onlineordering --base-url https://api.alohaorderonline.com --company-code ABCD001 \\
      --api-credentials-env NCR_API --email me@example.com --remember-device laptop
  twofa login onlineordering --base-url https://api.alohaorderonline.com --company-code ABCD001 \\
      --api-credentials-env NCR_API --guest --email me@example.com")]
    Onlineordering {
        /// The API root before v1/
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// The company code (X-Api-CompanyCode)
        #[arg(long, value_name = "CODE")]
        company_code: String,
        /// The variable holding the integrator's `user:password`
        #[arg(long, value_name = "VAR")]
        api_credentials_env: String,
        /// The customer's email
        #[arg(long)]
        email: String,
        /// Log in as a guest with --email only: no password is asked (POST v1/Authenticate/Guest)
        #[arg(long, conflicts_with_all = ["password_env", "password_stdin", "password_keyring"])]
        guest: bool,
        /// Ask the server to remember this device under a nickname (later logins skip the code)
        #[arg(long, value_name = "NICKNAME")]
        remember_device: Option<String>,
        /// The flags every login takes.
        #[command(flatten)]
        common: Common,
    },
}

/// `twofa oms …`.
#[derive(Debug, Subcommand)]
pub enum OmsCommand {
    /// "2FA once, then an API key": create, list and remove the user's API keys
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

/// `twofa oms api-key …`: `AddUserAPIKey`, `GetUserAPIKeys`, `RemoveUserAPIKey` with a profile's session.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key with the session of an OMS profile (a code is asked for if that session
    /// ended) and write an API-key profile that logs in with it, no code. The key and its secret go
    /// to the OS keyring (a keyring profile) or a 0600 file, never to the terminal unless asked
    #[command(after_help = "Examples:
  twofa login oms --url wss://apex.example/WSGateway --username trader1 --profile oms   # 2FA once
  twofa oms api-key create --profile oms --permissions Trading,AccountReadOnly --key-profile bot
  twofa token --profile bot                                  # an API-key login: no code, ever")]
    Create {
        /// The OMS profile whose session creates the key
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// The key's permissions, comma-separated: Trading, Deposit, Withdraw, AccountReadOnly
        #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
        permissions: Vec<String>,
        /// The name of the new API-key profile [default: PROFILE-api-key]
        #[arg(long, value_name = "NAME")]
        key_profile: Option<String>,
        /// Also print the new API key and its secret (stored either way; shown by the server once)
        #[arg(long)]
        show_secret: bool,
    },
    /// List the API keys of an OMS profile's user and their permissions (never a secret)
    #[command(after_help = "Example:
  twofa oms api-key list --profile oms")]
    List {
        /// The OMS profile whose session lists the keys
        #[arg(long, value_name = "NAME")]
        profile: String,
    },
    /// Remove an API key: it stops logging in
    #[command(after_help = "Examples:
  twofa oms api-key remove --profile oms --key-profile bot   # the key the profile `bot` holds
  twofa oms api-key remove --profile oms 0bad72d6353624305cd6fabecc11b7ad   # a key `list` printed")]
    Remove {
        /// The OMS profile whose session removes the key
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// The API key, as `list` prints it
        #[arg(value_name = "KEY", required_unless_present = "key_profile")]
        key: Option<String>,
        /// Remove the key this API-key profile logs in with, instead of naming it
        #[arg(long, value_name = "NAME", conflicts_with = "key")]
        key_profile: Option<String>,
    },
}

/// The OMS gateway to use (`--transport`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TransportArg {
    /// The WebSocket gateway
    Ws,
    /// The HTTP gateway
    Http,
}

/// How a command prints (`--format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary for people, without the token
    #[default]
    Text,
    /// One JSON object with the token, for scripts
    Json,
    /// `token` only: curl config lines, one `header = "Name: value"` each (`| curl -K - URL`)
    Curl,
    /// `token` only: POSIX-shell assignments (`eval "$(twofa token … --format env)"`)
    Env,
}

/// Flags every `login` takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Read the password from this variable (kept in the profile, so `token` can log in again)
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    pub password_env: Option<String>,
    /// Run this command (an argv, no shell: `op read op://vault/item/password`, `pass show etna`)
    /// and take the first line it prints as the password; the profile keeps the command, never
    /// its output, so `token` runs it again when it must log in again
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["password_env", "password_stdin", "password_keyring"])]
    pub password_command: Option<String>,
    /// Read the password from the first line of standard input (and nothing more: see --code-stdin)
    #[arg(long)]
    pub password_stdin: bool,
    /// With --password-stdin: read the code from the next line of standard input. Without it, a
    /// line after the password is never taken as the code
    #[arg(long, requires = "password_stdin", group = "code_source")]
    pub code_stdin: bool,
    /// The verification code
    #[arg(long, value_name = "CODE", group = "code_source")]
    pub code: Option<String>,
    /// Read the verification code from this variable
    #[arg(long, value_name = "VAR", group = "code_source")]
    pub code_env: Option<String>,
    /// Run this command (an argv, no shell: `op item get etna --otp`) for each code; its first line
    /// is the code. Kept in the profile, like --code-env
    #[arg(long, value_name = "COMMAND", group = "code_source")]
    pub code_command: Option<String>,
    /// Compute the code from the TOTP seed (base32 or otpauth:// URI) in this variable
    #[arg(long, value_name = "VAR", group = "code_source")]
    pub totp_secret_env: Option<String>,
    /// The profile to store the session under [default: the provider's name]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Allow plain http:// to hosts other than loopback (credentials travel in clear)
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Where to keep the session: a 0600 file, the OS keyring (a file when no keyring answers), or
    /// Redis for a fleet
    #[arg(long, value_enum, default_value_t)]
    pub store: StoreArg,
    /// Keep the password typed at the prompt in the OS keyring, so `token` can log in again
    #[arg(long, conflicts_with = "password_env")]
    pub password_keyring: bool,
    /// Send the credentials, keep the pending login and exit without waiting for the code: for a
    /// code that arrives by email or SMS later. Finish with `twofa verify --profile NAME --code …`.
    /// Not for the OMS over WebSocket, whose login waits on an open connection
    #[arg(long, conflicts_with_all = ["code_source", "password_keyring"])]
    pub no_wait: bool,
    /// Replace a profile of the same name that logs in to another endpoint or account (asked at a
    /// terminal otherwise; refused without one). The old session is never sent to the new endpoint
    #[arg(long)]
    pub replace: bool,
    /// Tell a person when a login of this profile waits for a code, and what became of it:
    /// KIND:env:VAR or KIND:file:PATH, KIND one of webhook, ntfy, slack, discord, telegram (the
    /// variable or 0600 file holds the URL). Kept in the profile; repeat for several
    #[arg(long = "notify", value_name = "SPEC")]
    pub notify: Vec<String>,
}

/// The filters of `twofa audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this profile's lines
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only lines since this time: RFC 3339 (2026-12-07T08:00:00Z) or an age (90s, 30m, 12h, 7d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only this outcome: ok, error (any failure) or an error kind (invalid_code, transport…)
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Option<String>,
    /// Only this action
    #[arg(long, value_enum)]
    pub action: Option<AuditAction>,
}

/// An audited action, for `twofa audit --action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditAction {
    /// Logins
    Login,
    /// Renewals
    Renewal,
    /// Resumes of idle sessions
    Resume,
    /// Logouts
    Logout,
    /// Tokens handed out
    Token,
}

/// The flags of `twofa serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; a port of 0 takes any free one. An address other than loopback
    /// needs --tls-cert/--tls-key or --allow-remote-plaintext
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback: the access token, codes and typed
    /// passwords then cross the network in clear (a trusted network, or a TLS proxy in front)
    #[arg(long, conflicts_with = "tls_cert")]
    pub allow_remote_plaintext: bool,
    /// Start the sandbox too, with demo profiles and a demo bot waiting for a code: the whole flow
    /// in one command (sessions live in a temporary directory, removed at exit)
    #[cfg(feature = "sandbox")]
    #[arg(long)]
    pub sandbox: bool,
    /// Print the link a bot of this profile takes (`export TWOFA_CONSOLE=…`): it registers and
    /// answers that profile's logins only and holds no access token. Repeat for several bots
    #[arg(long = "bot", value_name = "PROFILE")]
    pub bots: Vec<String>,
    /// Write the console's access link to this new file (0600; refused if it exists or is a
    /// symbolic link) instead of printing it, so it stays out of terminal scrollback and logs.
    /// The file is removed when the console stops
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Tell a person when a login waits for a code in the console (bots' and the console's own),
    /// and what became of it: KIND:env:VAR or KIND:file:PATH (see `login --notify`); repeat for several
    #[arg(long = "notify", value_name = "SPEC")]
    pub notify: Vec<String>,
    /// Also serve /metrics, /healthz and /readyz without the access token on this loopback
    /// address (they are always served on the console's address, behind its token)
    #[arg(long, value_name = "ADDR")]
    pub ops_listen: Option<SocketAddr>,
}

/// The flags of `twofa proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The profile whose API the proxy reaches and whose session it adds
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// The loopback address to listen on; a port of 0 takes any free one
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0", conflicts_with = "unix")]
    pub listen: SocketAddr,
    /// Listen on a Unix socket at this path instead (0600: no access token in the URL)
    #[arg(long, value_name = "PATH")]
    pub unix: Option<PathBuf>,
    /// Write the base URL (it carries the access token) to this new file (0600; refused if it
    /// exists or is a symbolic link) instead of printing it. Removed when the proxy stops
    #[arg(long, value_name = "PATH")]
    pub url_file: Option<PathBuf>,
    /// How long requests wait, in seconds, for a renewal that needs a person's code before they
    /// are answered 503 `code_needed`
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub code_wait: u64,
}

/// Where `login` keeps the session (`--store`); the profile records what was actually chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    /// A 0600 file under the store directory
    #[default]
    File,
    /// The OS keyring (Keychain, Credential Manager, Secret Service); files when none answers
    Keyring,
    /// Redis, shared by a fleet: `TWOFA_REDIS_URL`, and `TWOFA_REDIS_KEY` (32 bytes, base64) to seal
    /// the sessions; every process with both shares one login and renews it once
    Redis,
}

/// The flags of `twofa exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A profile whose token the command gets; repeat for several (the variables are then named
    /// per profile: `TWOFA_<PROFILE>_ACCESS_TOKEN`, …)
    #[arg(long = "profile", value_name = "NAME", required = true)]
    pub profiles: Vec<String>,
    /// Keep the token contract (JSON, as `token --format json`; an object per profile with several)
    /// in this file, 0600, rewritten atomically at each renewal; the command gets its path in
    /// TWOFA_HEADERS_FILE. Its directory must be yours alone. Removed when the command ends
    #[arg(long, value_name = "PATH", conflicts_with = "restart_on_renew")]
    pub headers_file: Option<PathBuf>,
    /// Send this signal to the command after each rewrite of --headers-file
    #[arg(long, value_enum, value_name = "SIGNAL", requires = "headers_file")]
    pub signal_on_renew: Option<RenewSignal>,
    /// Renew each session before it expires and restart the command with fresh variables (SIGTERM,
    /// then SIGKILL after --stop-timeout)
    #[arg(long)]
    pub restart_on_renew: bool,
    /// Start a local proxy to each profile's API for the command's lifetime (as `twofa proxy`)
    /// and give its base URL in `TWOFA_PROXY_URL` (`TWOFA_<PROFILE>_PROXY_URL` with several): the
    /// command sends no credential, and the proxy renews the session as it goes
    #[arg(long)]
    pub proxy: bool,
    /// How long a command restarted by --restart-on-renew has to exit after SIGTERM, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 10, requires = "restart_on_renew")]
    pub stop_timeout: u64,
    /// The command and its arguments (no shell: `-- sh -c '…'` for one)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// The signal `exec --signal-on-renew` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenewSignal {
    /// SIGHUP: "reload your configuration"
    Hup,
    /// SIGUSR1
    Usr1,
    /// SIGUSR2
    Usr2,
}

/// `twofa sandbox --help`'s epilogue: every variant, from the sandbox's one table, and an example.
#[cfg(feature = "sandbox")]
fn sandbox_after_help() -> String {
    format!(
        "Variants (--variant KEY=VALUE; the first value is the default):\n{}\nExamples:\n  \
         twofa sandbox --port 8700   # then follow the printed `twofa login` lines in another terminal\n  \
         twofa sandbox --variant oms.user-id=number --variant oms.ping=string",
        twofa_sandbox::variants::help()
    )
}
