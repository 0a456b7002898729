//! A message builder that writes correct RFC 5322 / MIME (filled in by the codec work).
