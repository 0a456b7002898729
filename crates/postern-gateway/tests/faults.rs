//! Faults found by attack (issue 25): folders that cannot be folders are refused at
//! start with a clear error instead of failing silently later.

mod common;

use postern_gateway::{Config, Gateway, StartError};

/// Starting with `[section] dir` pointing at a regular file must fail, naming the path.
async fn refused_when_a_file(section: &str) {
    let dir = common::temp_dir("faults", section);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{section}-is-a-file"));
    std::fs::write(&file, b"not a folder").unwrap();
    let text = format!(
        r#"
[server]
hostname = "mx.test"
data_dir = "{data}"

[connections]
listen = ["127.0.0.1:0"]

[{section}]
enabled = true
dir = "{file}"
"#,
        data = dir.display(),
        file = file.display(),
    );
    let config = Config::from_toml_str(&text).expect("test config is valid");
    match Gateway::start(config).await {
        Err(e @ StartError::DataDir { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&file.display().to_string()), "{text}");
            assert!(text.contains("not a directory"), "{text}");
        }
        Err(other) => panic!("wrong error for {section}: {other}"),
        Ok(gw) => {
            gw.shutdown(std::time::Duration::from_secs(1)).await;
            panic!("{section} dir that is a file was accepted");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_pickup_folder_that_is_a_file_is_refused_at_start() {
    refused_when_a_file("pickup").await;
}

#[tokio::test]
async fn an_archive_folder_that_is_a_file_is_refused_at_start() {
    refused_when_a_file("archive").await;
}
