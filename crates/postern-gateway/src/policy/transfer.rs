//! Transfer modes as the IMS meant them (the IMS "Connections" page): which queued
//! mail moves.
//!
//! Mail *to the organisation* (inward) is mail whose recipients' domain is an accepted
//! domain (`[inbound] domains`) or whose first-choice connector is a `maildir`
//! connector or one marked `inbound = true`; everything else is mail to the Internet
//! (outward). Mode `both` moves everything; `inbound` keeps delivering inward and holds
//! only outward mail; `outbound` the reverse; `none` holds everything. A delivery
//! (one message, one destination) with recipients in both directions moves only in
//! mode `both`.

use postern_route::RouteRequest;

use crate::config::{Config, TransferMode};

/// Whether mail to `address` goes to the organisation (see the module documentation).
pub fn is_inward(config: &Config, address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    if config.inbound.is_accepted_domain(domain) {
        return true;
    }
    let Ok(route) = config
        .routing
        .table
        .route(&RouteRequest::smtp(address), &())
    else {
        return false;
    };
    config
        .routing
        .connector(route.first().connector)
        .is_some_and(|c| c.kind == "maildir" || c.inbound)
}

/// Whether `mode` lets mail to `recipients` be delivered now.
pub fn may_deliver<'a>(
    mode: TransferMode,
    config: &Config,
    mut recipients: impl Iterator<Item = &'a str>,
) -> bool {
    match mode {
        TransferMode::Both => true,
        TransferMode::None => false,
        TransferMode::Inbound => recipients.all(|r| is_inward(config, r)),
        TransferMode::Outbound => recipients.all(|r| !is_inward(config, r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[inbound]
domains = ["corp.test"]

[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"

[[connector]]
name = "branch"
inbound = true
smart_hosts = ["[127.0.0.1]:2526"]
  [[connector.address_space]]
  pattern = "branch.test"

[[connector]]
name = "internal"
smart_hosts = ["[127.0.0.1]:2527"]
  [[connector.address_space]]
  pattern = "corp.test"

[[connector]]
name = "internet"
  [[connector.address_space]]
  pattern = "*"
"#;

    #[test]
    fn directions() {
        let c = Config::from_toml_str(CONFIG).unwrap();
        for a in ["a@localhost", "a@branch.test", "a@corp.test", "a@CORP.TEST"] {
            assert!(is_inward(&c, a), "{a}");
        }
        for a in ["a@remote.test", "a@x.corp.test", "a@[127.0.0.1]"] {
            assert!(!is_inward(&c, a), "{a}");
        }
        let inward = ["a@corp.test", "b@localhost"];
        let mixed = ["a@corp.test", "b@remote.test"];
        let m = |mode, list: &[&str]| may_deliver(mode, &c, list.iter().copied());
        assert!(m(TransferMode::Inbound, &inward));
        assert!(!m(TransferMode::Outbound, &inward));
        assert!(!m(TransferMode::Inbound, &mixed));
        assert!(!m(TransferMode::Outbound, &mixed));
        assert!(m(TransferMode::Both, &mixed));
        assert!(m(TransferMode::Outbound, &["x@remote.test"]));
        assert!(!m(TransferMode::None, &["x@remote.test"]));
    }
}
