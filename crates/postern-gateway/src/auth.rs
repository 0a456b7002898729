//! (being written)
/// stub until the inbound branch lands
pub fn hash_password(_p: &str) -> Result<String, String> {
    Err("not yet".into())
}
