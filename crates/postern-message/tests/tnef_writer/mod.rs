//! A small TNEF writer for tests: builds the streams real clients send (titles, long
//! and Unicode names, embedded messages, bad checksums, trailing garbage).
#![allow(dead_code)]

/// One attachment to write.
#[derive(Default, Clone)]
pub struct Att {
    pub title: Option<Vec<u8>>,
    pub long_name: Option<String>,
    pub unicode_name: bool,
    pub data: Vec<u8>,
    /// Write the data as an embedded message (PT_OBJECT) instead of attAttachData.
    pub embedded: Option<Vec<u8>>,
}

/// A TNEF stream: a body text and attachments.
#[derive(Default, Clone)]
pub struct Writer {
    pub body: Option<String>,
    pub atts: Vec<Att>,
    pub bad_checksum: bool,
    pub garbage: Vec<u8>,
}

fn attr(out: &mut Vec<u8>, level: u8, tag: u32, data: &[u8], bad: bool) {
    out.push(level);
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
    out.extend_from_slice(&(if bad { sum ^ 0x5a5a } else { sum }).to_le_bytes());
}

fn pad(v: &mut Vec<u8>) {
    while v.len() & 3 != 0 {
        v.push(0);
    }
}

fn prop_var(props: &mut Vec<u8>, ty: u16, id: u16, value: &[u8]) {
    props.extend_from_slice(&ty.to_le_bytes());
    props.extend_from_slice(&id.to_le_bytes());
    props.extend_from_slice(&1u32.to_le_bytes());
    props.extend_from_slice(&(value.len() as u32).to_le_bytes());
    props.extend_from_slice(value);
    pad(props);
}

impl Writer {
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0x223E_9F78u32.to_le_bytes());
        out.extend_from_slice(&0x0001u16.to_le_bytes());
        // attTnefVersion, attOemCodepage (1252).
        attr(
            &mut out,
            1,
            0x0008_9006,
            &0x0001_0000u32.to_le_bytes(),
            false,
        );
        attr(
            &mut out,
            1,
            0x0006_9007,
            &[0xE4, 0x04, 0, 0, 0, 0, 0, 0],
            false,
        );
        if let Some(b) = &self.body {
            let mut t = b.as_bytes().to_vec();
            t.push(0);
            attr(&mut out, 1, 0x0002_800C, &t, false);
        }
        for (k, a) in self.atts.iter().enumerate() {
            let bad = self.bad_checksum && k == 0;
            attr(&mut out, 2, 0x0006_9002, &[0u8; 14], false);
            if let Some(t) = &a.title {
                let mut t = t.clone();
                t.push(0);
                attr(&mut out, 2, 0x0001_8010, &t, false);
            }
            if a.embedded.is_none() {
                attr(&mut out, 2, 0x0006_800F, &a.data, bad);
            }
            let mut props = Vec::new();
            let mut n = 0u32;
            if let Some(name) = &a.long_name {
                n += 1;
                if a.unicode_name {
                    let mut v: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
                    v.extend_from_slice(&[0, 0]);
                    prop_var(&mut props, 0x001F, 0x3707, &v);
                } else {
                    let mut v = name.as_bytes().to_vec();
                    v.push(0);
                    prop_var(&mut props, 0x001E, 0x3707, &v);
                }
            }
            if let Some(inner) = &a.embedded {
                n += 1;
                // IID_IMessage, then the embedded TNEF stream.
                let mut v = vec![
                    0x07, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
                ];
                v.extend_from_slice(inner);
                prop_var(&mut props, 0x000D, 0x3701, &v);
            }
            if n > 0 {
                let mut list = n.to_le_bytes().to_vec();
                list.extend_from_slice(&props);
                attr(&mut out, 2, 0x0006_9005, &list, false);
            }
        }
        out.extend_from_slice(&self.garbage);
        out
    }
}
