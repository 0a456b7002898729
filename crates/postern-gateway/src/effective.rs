//! The effective settings of a [`Config`], as `postern config check` prints them: every
//! key with the value in force, defaults filled in, in the file's own section layout.
//!
//! The text is valid TOML that `postern serve -c` accepts unchanged and that reads back
//! as the same configuration (tested below: print, parse, print again). Notes that are
//! not settings are comments.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::{Config, RuleAction};

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn q(v: impl std::fmt::Display) -> String {
    let mut out = String::from("\"");
    for ch in v.to_string().chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let v: Vec<String> = items.iter().map(q).collect();
    format!("[{}]", v.join(", "))
}

/// A duration as the config writes it (`1h30m`, `500ms`).
fn dur(d: Duration) -> String {
    q(postern_queue::time::format_duration(d))
}

/// Renders the effective settings as TOML (paths as given, durations in the units the
/// keys take).
pub fn effective_settings(c: &Config) -> String {
    let mut o = String::new();
    let _ = server_part(c, &mut o);
    let _ = limits_part(c, &mut o);
    let _ = security_part(c, &mut o);
    let _ = admin_part(c, &mut o);
    let _ = spool_retention_part(c, &mut o);
    let _ = routing_part(c, &mut o);
    let _ = inbound_part(c, &mut o);
    let _ = domain_options_part(c, &mut o);
    let _ = storage_part(c, &mut o);
    o
}

/// `[storage]`: the backend and its database; the password itself never (only where
/// it is read from).
fn storage_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let s = &c.storage;
    writeln!(o, "\n[storage]")?;
    writeln!(o, "backend = {}", q(s.backend.name()))?;
    match &s.url {
        Some(u) => writeln!(o, "url = {}", q(u))?,
        None => writeln!(o, "# url: none")?,
    }
    match (&s.password_file, &s.password_env) {
        (Some(p), _) => writeln!(o, "password_file = {}", q(p.display()))?,
        (None, Some(v)) => writeln!(o, "password_env = {}", q(v))?,
        (None, None) => writeln!(o, "# password_file, password_env: none")?,
    }
    writeln!(o, "node = {}", q(&s.node))?;
    writeln!(o, "lease_secs = {}", s.lease.as_secs())?;
    writeln!(o, "pool_size = {}", s.pool_size)?;
    writeln!(o, "tracking_batch = {}", s.tracking_batch)?;
    writeln!(o, "tracking_flush_ms = {}", s.tracking_flush.as_millis())
}

/// `[[domain_options]]` (every key, defaults filled in) and `[[mime_types]]` (the
/// entries added to the built-in table, which is listed as a comment).
fn domain_options_part(c: &Config, o: &mut String) -> std::fmt::Result {
    use crate::outbound::options::{AutoReplies, RichText};
    for (pattern, opts) in c.domain_options.entries() {
        writeln!(o, "\n[[domain_options]]")?;
        writeln!(o, "pattern = {}", q(pattern))?;
        let rich = match opts.rich_text {
            RichText::Always => "always",
            RichText::Never => "never",
        };
        writeln!(o, "rich_text = {}", q(rich))?;
        writeln!(o, "send_display_names = {}", opts.send_display_names)?;
        let auto = match opts.auto_replies {
            AutoReplies::Send => "send",
            AutoReplies::Drop => "drop",
        };
        writeln!(o, "auto_replies = {}", q(auto))?;
    }
    // In order: read back, they are added in one go, in front of the built-in ones.
    let added = c.mime_types.added();
    writeln!(
        o,
        "\n# MIME types in force (type = extension), first match wins:"
    )?;
    let shown: Vec<String> = c
        .mime_types
        .entries()
        .iter()
        .map(|(t, e)| format!("{t} = .{e}"))
        .collect();
    for line in shown.chunks(4) {
        writeln!(o, "#   {}", line.join(", "))?;
    }
    for (t, e) in added {
        writeln!(o, "[[mime_types]]")?;
        writeln!(o, "type = {}", q(t))?;
        writeln!(o, "extension = {}", q(e))?;
    }
    Ok(())
}

/// `[inbound]`: accepted domains and recipient verification.
fn inbound_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let i = &c.inbound;
    writeln!(o, "\n[inbound]")?;
    writeln!(o, "domains = {}", list(&i.domains))?;
    writeln!(o, "verify_recipients = \"{}\"", i.verify_recipients.name())?;
    match &i.recipients_file {
        Some(p) => writeln!(o, "recipients_file = {}", q(p.display()))?,
        None => writeln!(o, "# recipients_file: none")?,
    }
    writeln!(
        o,
        "callout_positive_ttl = \"{}s\"",
        secs(i.callout_positive_ttl)
    )?;
    writeln!(
        o,
        "callout_negative_ttl = \"{}s\"",
        secs(i.callout_negative_ttl)
    )?;
    writeln!(
        o,
        "callout_unavailable = \"{}\"",
        i.callout_unavailable.name()
    )?;
    writeln!(o, "callout_timeout = \"{}s\"", secs(i.callout_timeout))?;
    writeln!(o, "callout_cache_entries = {}", i.callout_cache_entries)
}

fn server_part(c: &Config, o: &mut String) -> std::fmt::Result {
    writeln!(o, "[server]")?;
    writeln!(o, "hostname = {}", q(&c.server.hostname))?;
    writeln!(o, "data_dir = {}", q(c.server.data_dir.display()))?;
    writeln!(o, "worker_threads = {}", c.server.worker_threads)?;
    writeln!(o, "scheduler = {}", q(c.server.scheduler.name()))?;
    writeln!(o, "\n[connections]")?;
    let n = &c.connections;
    writeln!(o, "listen = {}", list(&n.listen))?;
    writeln!(o, "max_connections = {}", n.max_connections)?;
    writeln!(o, "max_connections_per_ip = {}", n.max_connections_per_ip)?;
    writeln!(o, "listen_backlog = {}", n.listen_backlog)?;
    writeln!(
        o,
        "max_outbound_connections = {}",
        n.max_outbound_connections
    )?;
    writeln!(
        o,
        "max_connections_per_destination = {}",
        n.max_connections_per_destination
    )?;
    writeln!(o, "messages_per_connection = {}", n.messages_per_connection)?;
    writeln!(o, "idle_connection_secs = {}", secs(n.idle_connection_time))?;
    writeln!(o, "greet_delay_ms = {}", n.greet_delay.as_millis())?;
    for r in &n.rules {
        let action = match r.action {
            RuleAction::Accept => "accept",
            RuleAction::Reject => "reject",
        };
        writeln!(o, "\n[[connections.rule]]")?;
        writeln!(o, "network = {}\naction = \"{action}\"", q(r.network))?;
    }
    Ok(())
}

fn spool_retention_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let s = &c.spool;
    writeln!(o, "\n[spool]")?;
    writeln!(o, "segment_size = {}", s.segment_size)?;
    writeln!(o, "compact_dead_bytes = {}", s.compact_dead_bytes)?;
    writeln!(o, "compact_idle_secs = {}", secs(s.compact_idle))?;
    writeln!(
        o,
        "completion_flush_ms = {}",
        s.completion_flush.as_millis()
    )?;
    writeln!(
        o,
        "group_commit_gather_us = {}",
        s.group_commit_gather.as_micros()
    )?;
    writeln!(o, "commit_thread = {}", s.commit_thread)?;
    writeln!(o, "preallocate = {}", s.preallocate)?;
    let r = &c.retention;
    writeln!(o, "\n[retention]")?;
    writeln!(o, "protocol_log_days = {}", r.protocol_log_days)?;
    writeln!(o, "archive_days = {}", r.archive_days)?;
    writeln!(o, "archive_max_bytes = {}", r.archive_max_bytes)?;
    writeln!(o, "quarantine_days = {}", r.quarantine_days)?;
    writeln!(o, "pickup_bad_days = {}", r.pickup_bad_days)
}

fn limits_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let l = &c.limits;
    writeln!(o, "\n[limits]")?;
    writeln!(o, "max_message_size = {}", l.max_message_size)?;
    writeln!(o, "max_recipients = {}", l.max_recipients)?;
    writeln!(o, "max_received_headers = {}", l.max_received_headers)?;
    writeln!(o, "min_data_rate = {}", l.min_data_rate)?;
    writeln!(
        o,
        "min_data_rate_window_secs = {}",
        secs(l.min_data_rate_window)
    )?;
    writeln!(o, "body_cache_bytes = {}", l.body_cache_bytes)?;
    let t = &c.timeouts;
    writeln!(o, "\n[timeouts]")?;
    writeln!(o, "command_secs = {}", secs(t.command))?;
    writeln!(o, "data_block_secs = {}", secs(t.data_block))?;
    writeln!(o, "data_termination_secs = {}", secs(t.data_termination))?;
    writeln!(o, "connect_secs = {}", secs(t.connect))?;
    writeln!(o, "greeting_secs = {}", secs(t.greeting))?;
    let q = &c.retry.queue;
    writeln!(o, "\n[retry]")?;
    writeln!(o, "# policy: {}", q.retry)?;
    retry_schedule(&q.retry, o)?;
    writeln!(o, "backoff_first = {}", dur(q.backoff.initial))?;
    writeln!(o, "backoff_max = {}", dur(q.backoff.max))?;
    writeln!(o, "urgent_timeout = \"{}s\"", secs(q.lifetimes.urgent))?;
    writeln!(o, "normal_timeout = \"{}s\"", secs(q.lifetimes.normal))?;
    writeln!(
        o,
        "non_urgent_timeout = \"{}s\"",
        secs(q.lifetimes.non_urgent)
    )?;
    writeln!(
        o,
        "notification_timeout = \"{}s\"",
        secs(q.lifetimes.notification)
    )?;
    let dn: Vec<String> = q
        .delay_notices
        .intervals
        .iter()
        .map(|d| format!("{}s", d.as_secs()))
        .collect();
    writeln!(o, "delay_notices = {}", list(&dn))?;
    writeln!(
        o,
        "poll_interval = \"{}ms\"",
        c.retry.poll_interval.as_millis()
    )?;
    writeln!(o, "down_expiry = \"{}s\"", c.retry.down_expiry.as_secs())?;
    // Sub-tables last: in TOML every key after a `[retry.urgent]` header belongs to it.
    for (name, p) in [
        ("urgent", &q.retry_urgent),
        ("non_urgent", &q.retry_non_urgent),
    ] {
        if let Some(p) = p {
            writeln!(o, "\n[retry.{name}]")?;
            writeln!(o, "# policy: {p}")?;
            retry_schedule(p, o)?;
        }
    }
    Ok(())
}

/// The `[retry]` keys that state the schedule: `first`/`factor`/`max_retries` or
/// `intervals`, and `jitter_percent`.
fn retry_schedule(p: &postern_queue::RetryPolicy, o: &mut String) -> std::fmt::Result {
    match &p.schedule {
        postern_queue::RetrySchedule::Geometric {
            first,
            factor,
            max_retries,
        } => {
            writeln!(o, "first = {}", dur(*first))?;
            writeln!(o, "factor = {factor:?}")?;
            writeln!(o, "max_retries = {max_retries}")?;
        }
        postern_queue::RetrySchedule::Intervals(list) => {
            let v: Vec<String> = list.iter().map(|d| dur(*d)).collect();
            writeln!(o, "intervals = [{}]", v.join(", "))?;
        }
        // The config file has no key for Exim rules; an embedder's policy is shown only.
        _ => {}
    }
    writeln!(o, "jitter_percent = {}", p.jitter_percent)
}

fn security_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let s = &c.security;
    writeln!(o, "\n[security]")?;
    match (&s.tls_cert, &s.tls_key) {
        (Some(cert), Some(key)) => {
            writeln!(o, "tls_cert = {}", q(cert.display()))?;
            writeln!(o, "tls_key = {}", q(key.display()))?;
        }
        _ => writeln!(o, "# no certificate: STARTTLS not offered")?,
    }
    writeln!(o, "trusted_roots = {}", q(s.trusted_roots.display()))?;
    writeln!(o, "auth_without_tls = {}", s.auth_without_tls)?;
    writeln!(o, "require_auth = {}", s.require_auth)?;
    writeln!(o, "relay_networks = {}", list(&s.relay_networks))?;
    let l = &s.auth_limits;
    writeln!(
        o,
        "auth_max_failures_per_session = {}",
        l.max_failures_per_session
    )?;
    writeln!(
        o,
        "auth_max_failures_per_client = {}",
        l.max_failures_per_client
    )?;
    writeln!(
        o,
        "auth_max_failures_per_user = {}",
        l.max_failures_per_user
    )?;
    writeln!(
        o,
        "auth_failure_window = \"{}\"",
        postern_queue::time::format_duration(l.window)
    )?;
    writeln!(
        o,
        "auth_failure_delay = \"{}\"",
        postern_queue::time::format_duration(l.delay)
    )?;
    writeln!(
        o,
        "auth_failure_delay_max = \"{}\"",
        postern_queue::time::format_duration(l.max_delay)
    )?;
    if s.users.is_empty() {
        writeln!(o, "# AUTH users: none (AUTH not offered)")?;
    }
    for u in &s.users {
        writeln!(o, "\n[[security.user]]")?;
        writeln!(o, "name = {}", q(&u.name))?;
        writeln!(o, "password_hash = {}", q(&u.password_hash))?;
    }
    writeln!(o, "\n[maildir]")?;
    writeln!(o, "root = {}", q(c.maildir.root.display()))?;
    writeln!(o, "recipients = {}", list(&c.maildir.recipients))?;
    writeln!(o, "\n[tracking]")?;
    writeln!(o, "enabled = {}", c.tracking.enabled)?;
    writeln!(o, "dir = {}", q(c.tracking.dir.display()))?;
    writeln!(o, "retention_days = {}", c.tracking.retention_days)?;
    writeln!(o, "\n[administrator]")?;
    writeln!(o, "mailbox = {}", q(&c.administrator.mailbox))?;
    Ok(())
}

fn admin_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let n = &c.notifications;
    writeln!(o, "\n[notifications]")?;
    writeln!(o, "failures = {}", n.failures)?;
    writeln!(o, "delays = {}", n.delays)?;
    writeln!(
        o,
        "copy_failures_to_administrator = {}",
        n.copy_failures_to_administrator
    )?;
    writeln!(
        o,
        "copy_delays_to_administrator = {}",
        n.copy_delays_to_administrator
    )?;
    writeln!(o, "return_full_by_default = {}", n.return_full_by_default)?;
    writeln!(o, "max_returned_size = {}", n.max_returned_size)?;
    writeln!(o, "\n[transfer]\nmode = \"{}\"", c.transfer_mode.name())?;
    for r in &c.restrictions {
        writeln!(o, "\n[[restriction]]")?;
        match &r.connector {
            Some(n) => writeln!(o, "connector = {}", q(n))?,
            None => writeln!(o, "# connector: all")?,
        }
        writeln!(o, "accept_from = {}", list(&r.accept_from))?;
        writeln!(o, "reject_from = {}", list(&r.reject_from))?;
    }
    let a = &c.archive;
    writeln!(o, "\n[archive]")?;
    writeln!(o, "enabled = {}", a.enabled)?;
    writeln!(o, "dir = {}", q(a.dir.display()))?;
    writeln!(o, "senders = {}", list(&a.senders))?;
    writeln!(o, "recipients = {}", list(&a.recipients))?;
    writeln!(
        o,
        "direction = {:?}",
        format!("{:?}", a.direction).to_lowercase()
    )?;
    writeln!(o, "\n[pickup]")?;
    writeln!(o, "enabled = {}", c.pickup.enabled)?;
    writeln!(o, "dir = {}", q(c.pickup.dir.display()))?;
    writeln!(o, "interval = \"{}ms\"", c.pickup.interval.as_millis())?;
    writeln!(o, "\n[protocol_log]")?;
    writeln!(o, "enabled = {}", c.protocol_log.enabled)?;
    writeln!(o, "dir = {}", q(c.protocol_log.dir.display()))?;
    writeln!(o, "\n[status]")?;
    match c.status.metrics_listen {
        Some(a) => writeln!(o, "metrics_listen = \"{a}\"")?,
        None => writeln!(o, "# no metrics endpoint")?,
    }
    writeln!(o, "\n[log]")?;
    writeln!(o, "format = \"{}\"", c.log.format.name())?;
    writeln!(o, "level = {}", q(&c.log.level))?;
    admin_api_part(c, o)
}

/// `[admin]`: where the admin API listens and the token file.
fn admin_api_part(c: &Config, o: &mut String) -> std::fmt::Result {
    use crate::config::AdminListen;
    writeln!(o, "\n[admin]")?;
    match &c.admin_api.listen {
        AdminListen::Off => writeln!(o, "listen = \"off\"")?,
        AdminListen::Tcp(a) => writeln!(o, "listen = \"{a}\"")?,
        AdminListen::Unix(p) => writeln!(o, "listen = {}", q(p.display()))?,
    }
    writeln!(o, "token_file = {}", q(c.admin_api.token_file.display()))?;
    Ok(())
}

fn routing_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let r = &c.routing;
    writeln!(o, "\n[dns]")?;
    writeln!(o, "name_servers = {}", list(&r.dns.name_servers))?;
    let dns = &r.dns.options;
    writeln!(o, "timeout_secs = {}", secs(dns.timeout))?;
    writeln!(o, "max_hosts = {}", dns.max_hosts)?;
    writeln!(o, "cache_entries = {}", dns.cache_entries)?;
    writeln!(o, "max_ttl_secs = {}", secs(dns.max_ttl))?;
    writeln!(o, "negative_ttl_secs = {}", secs(dns.negative_ttl))?;
    writeln!(o, "port = {}", dns.port)?;
    for conn in &r.connectors {
        writeln!(o, "\n[[connector]]")?;
        writeln!(o, "name = {}\nkind = {}", q(&conn.name), q(&conn.kind))?;
        writeln!(o, "inbound = {}", conn.inbound)?;
        writeln!(o, "max_attempts = {}", conn.max_attempts)?;
        if let Some(site) = &conn.site {
            writeln!(o, "site = {}", q(site))?;
        }
        if let Some(location) = &conn.location {
            writeln!(o, "location = {}", q(location))?;
        }
        match &conn.next_hop {
            postern_route::NextHopPolicy::SmartHosts(hosts) => {
                let h: Vec<String> = hosts
                    .iter()
                    .map(|h| {
                        h.port
                            .map_or_else(|| h.host.clone(), |p| format!("{}:{p}", h.host))
                    })
                    .collect();
                writeln!(o, "smart_hosts = {}", list(&h))?;
            }
            _ if conn.kind == "smtp" => writeln!(o, "# next hop: DNS MX")?,
            _ => {}
        }
        for space in &conn.address_spaces {
            writeln!(o, "\n[[connector.address_space]]")?;
            writeln!(o, "type = {}", q(&space.address_type))?;
            writeln!(o, "pattern = {}", q(&space.pattern))?;
            writeln!(o, "cost = {}", space.cost)?;
            writeln!(o, "scope = \"{}\"", lower(space.scope))?;
        }
    }
    let d = r.domains.defaults();
    writeln!(o, "\n[domain_defaults]")?;
    writeln!(
        o,
        "content_format = {:?}",
        format!("{:?}", d.content_format).to_lowercase()
    )?;
    writeln!(o, "charset = {}", q(&d.charset))?;
    writeln!(o, "non_mime_charset = {}", q(&d.non_mime_charset))?;
    writeln!(
        o,
        "unrepresentable = {}",
        q(format!("{:?}", d.unrepresentable).to_lowercase())
    )?;
    writeln!(o, "max_message_size = {}", d.max_message_size.unwrap_or(0))?;
    writeln!(o, "tls = {:?}", format!("{:?}", d.tls).to_lowercase())?;
    let dequeue = match d.dequeue {
        postern_route::Dequeue::Send => "send",
        _ => "hold-for-etrn",
    };
    writeln!(o, "dequeue = \"{dequeue}\"")?;
    domains_part(c, o)?;
    writeln!(
        o,
        "\n# address spaces: {} entr(y/ies) in the routing table",
        r.table.len()
    )?;
    Ok(())
}

fn lower<T: std::fmt::Debug>(v: T) -> String {
    format!("{v:?}").to_lowercase()
}

fn dequeue_name(d: postern_route::Dequeue) -> &'static str {
    match d {
        postern_route::Dequeue::Send => "send",
        _ => "hold-for-etrn",
    }
}

/// Each `[[domain]]`: the keys it sets, then every setting in force for it (inherited
/// from less specific patterns and `[domain_defaults]`) as a comment.
fn domains_part(c: &Config, o: &mut String) -> std::fmt::Result {
    let table = &c.routing.domains;
    for (pattern, set) in table.entries() {
        writeln!(o, "\n[[domain]]")?;
        writeln!(o, "pattern = {}", q(&pattern))?;
        if let Some(f) = set.content_format {
            writeln!(o, "content_format = \"{}\"", lower(f))?;
        }
        if let Some(cs) = &set.charset {
            writeln!(o, "charset = {}", q(cs))?;
        }
        if let Some(cs) = &set.non_mime_charset {
            writeln!(o, "non_mime_charset = {}", q(cs))?;
        }
        if let Some(u) = set.unrepresentable {
            writeln!(o, "unrepresentable = {}", q(lower(u)))?;
        }
        if let Some(n) = set.max_message_size {
            writeln!(o, "max_message_size = {n}")?;
        }
        if let Some(t) = set.tls {
            writeln!(o, "tls = \"{}\"", lower(t))?;
        }
        if let Some(d) = set.dequeue {
            writeln!(o, "dequeue = \"{}\"", dequeue_name(d))?;
        }
        let e = table.lookup(&pattern);
        writeln!(
            o,
            "# in force: content_format = \"{}\", charset = \"{}\", max_message_size = {}, \
             tls = \"{}\", dequeue = \"{}\"",
            lower(e.content_format),
            e.charset,
            e.max_message_size.unwrap_or(0),
            lower(e.tls),
            dequeue_name(e.dequeue)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section that compares, and the routing through its printed form.
    fn assert_same(a: &Config, b: &Config) {
        assert_eq!(a.server, b.server);
        assert_eq!(a.connections, b.connections);
        assert_eq!(a.limits, b.limits);
        assert_eq!(a.timeouts, b.timeouts);
        assert_eq!(a.retry, b.retry);
        assert_eq!(a.security, b.security);
        assert_eq!(a.maildir, b.maildir);
        assert_eq!(a.tracking, b.tracking);
        assert_eq!(a.administrator, b.administrator);
        assert_eq!(a.notifications, b.notifications);
        assert_eq!(a.transfer_mode, b.transfer_mode);
        assert_eq!(a.restrictions, b.restrictions);
        assert_eq!(a.archive, b.archive);
        assert_eq!(a.pickup, b.pickup);
        assert_eq!(a.protocol_log, b.protocol_log);
        assert_eq!(a.status, b.status);
        assert_eq!(a.log, b.log);
        assert_eq!(a.spool, b.spool);
        assert_eq!(a.retention, b.retention);
        assert_eq!(a.inbound, b.inbound);
        assert_eq!(a.domain_options, b.domain_options);
        assert_eq!(a.mime_types, b.mime_types);
        assert_eq!(a.storage, b.storage);
        assert_eq!(a.routing.connectors, b.routing.connectors);
        assert_eq!(a.routing.dns, b.routing.dns);
        assert_eq!(a.routing.table.len(), b.routing.table.len());
        assert_eq!(a.routing.domains.defaults(), b.routing.domains.defaults());
        assert_eq!(a.routing.domains.entries(), b.routing.domains.entries());
    }

    /// `config check` output is a config file: read back, it is the same configuration.
    fn round_trip(c: &Config) {
        let text = effective_settings(c);
        let back = Config::from_toml_str(&text)
            .unwrap_or_else(|e| panic!("the effective settings do not read back: {e}\n{text}"));
        assert_same(c, &back);
        assert_eq!(effective_settings(&back), text);
    }

    #[test]
    fn embedded_default_round_trips() {
        round_trip(&Config::embedded());
    }

    #[test]
    fn documented_example_round_trips() {
        let example = include_str!("../../../examples/postern.toml");
        round_trip(&Config::from_toml_str(example).unwrap());
    }

    #[test]
    fn priority_schedules_round_trip_as_tables() {
        let c = Config::from_toml_str(
            "[retry]\nfirst = \"10m\"\n\
             [retry.urgent]\nfirst = \"1m\"\nfactor = 2.0\nmax_retries = 4\n\
             [retry.non_urgent]\nintervals = [\"2h\", \"6h\"]\njitter_percent = 5\n",
        )
        .unwrap();
        assert!(c.retry.queue.retry_urgent.is_some());
        assert!(c.retry.queue.retry_non_urgent.is_some());
        let text = effective_settings(&c);
        assert!(text.contains("\n[retry.urgent]\n"), "{text}");
        assert!(text.contains("\n[retry.non_urgent]\n"), "{text}");
        round_trip(&c);
    }

    #[test]
    fn every_kind_of_entry_round_trips() {
        let hash = crate::auth::hash_password("secret").unwrap();
        let c = Config::from_toml_str(&format!(
            "[server]\nhostname = \"mx.\\\"odd\\\".test\"\ndata_dir = \"/tmp/a b\\\\c\"\n\
             [connections]\nlisten = [\"127.0.0.1:2600\"]\n\
             [[connections.rule]]\nnetwork = \"10.0.0.0/8\"\naction = \"reject\"\n\
             [retry]\nintervals = [\"90s\", \"1h30m\"]\njitter_percent = 10\n\
             backoff_first = \"2m\"\nbackoff_max = \"3h\"\n\
             [[security.user]]\nname = \"jo\"\npassword_hash = \"{hash}\"\n\
             [[restriction]]\nconnector = \"out\"\naccept_from = [\"*@corp.test\"]\n\
             [[restriction]]\nreject_from = [\"spam@corp.test\"]\n\
             [dns]\nname_servers = [\"127.0.0.1:5353\"]\nmax_hosts = 3\n\
             [[connector]]\nname = \"out\"\nsite = \"hq\"\nlocation = \"floor 2\"\n\
             max_attempts = 5\nsmart_hosts = [\"[192.0.2.1]:2525\"]\n\
             [[connector.address_space]]\npattern = \"*\"\ncost = 20\nscope = \"site\"\n\
             [[connector.address_space]]\ntype = \"X400\"\npattern = \"c=US;p=Org;\"\n\
             [[connector]]\nname = \"local\"\nkind = \"maildir\"\n\
             [[connector.address_space]]\npattern = \"localhost\"\n\
             [[domain]]\npattern = \"*.legacy.test\"\ncontent_format = \"uuencode\"\n\
             [[domain_options]]\npattern = \"*.legacy.test\"\nrich_text = \"never\"\n\
             send_display_names = false\nauto_replies = \"drop\"\n\
             [[mime_types]]\ntype = \"application/x-report\"\nextension = \".rpt\"\n\
             [[mime_types]]\ntype = \"text/x-notes\"\nextension = \"txt\"\n",
        ))
        .unwrap();
        assert_eq!(c.routing.connectors[0].address_spaces.len(), 2);
        round_trip(&c);
    }

    #[test]
    fn storage_is_listed_without_a_password() {
        let c = Config::from_toml_str(
            "[storage]\nurl = \"postgres://postern@127.0.0.1/postern\"\n\
             password_env = \"PG_PASSWORD\"\nnode = \"mx1\"\n",
        )
        .unwrap();
        let text = effective_settings(&c);
        let want = "\n[storage]\nbackend = \"local\"\n\
                    url = \"postgres://postern@127.0.0.1/postern\"\n\
                    password_env = \"PG_PASSWORD\"\nnode = \"mx1\"\n\
                    lease_secs = 600\npool_size = 4\ntracking_batch = 1000\n\
                    tracking_flush_ms = 200\n";
        assert!(text.contains(want), "{text}");
        round_trip(&c);
        let e = Config::from_toml_str("[storage]\nurl = \"postgres://u:hunter2@db/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.url") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn embedded_settings_are_listed() {
        let text = effective_settings(&Config::embedded());
        for needle in [
            "listen = [\"127.0.0.1:2525\"]",
            "max_message_size = 10485760",
            "max_received_headers = 30",
            "[[connector]]\nname = \"local\"\nkind = \"maildir\"\n",
            "mailbox = \"postmaster@localhost\"",
            "retention_days = 7",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn domains_are_listed_with_what_is_in_force() {
        let c = Config::from_toml_str(
            "[[domain]]\npattern = \"*.legacy.test\"\ncontent_format = \"uuencode\"\n\
             charset = \"us-ascii\"\n\
             [[domain]]\npattern = \"mail.legacy.test\"\nmax_message_size = 4096\n\
             [[domain]]\npattern = \"[192.0.2.1]\"\ndequeue = \"hold-for-etrn\"\n",
        )
        .unwrap();
        let text = effective_settings(&c);
        let want = "\n[[domain]]\npattern = \"mail.legacy.test\"\nmax_message_size = 4096\n\
                    # in force: content_format = \"uuencode\", charset = \"us-ascii\", \
                    max_message_size = 4096, tls = \"opportunistic\", dequeue = \"send\"\n";
        assert!(text.contains(want), "{text}");
        assert!(
            text.contains("pattern = \"*.legacy.test\"\ncontent_format = \"uuencode\"\n"),
            "{text}"
        );
        assert!(
            text.contains("pattern = \"[192.0.2.1]\"\ndequeue = \"hold-for-etrn\"\n"),
            "{text}"
        );
    }
}
