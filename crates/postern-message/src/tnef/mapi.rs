//! MAPI property lists inside TNEF attributes (`attMAPIProps`, `attAttachment`).
//!
//! A list is a count, then per property its type and id (a named property adds a GUID
//! and a number or a name), then its value(s), each padded to 4 octets. Counts are
//! checked against the octets that remain, so a lying count costs no allocation.

use encoding_rs::Encoding;

use super::{Reader, TnefLimits, decode_8bit};

pub(super) const PR_SUBJECT: u16 = 0x0037;
pub(super) const PR_BODY: u16 = 0x1000;
pub(super) const PR_RTF_COMPRESSED: u16 = 0x1009;
pub(super) const PR_BODY_HTML: u16 = 0x1013;
pub(super) const PR_DISPLAY_NAME: u16 = 0x3001;
pub(super) const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
pub(super) const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
pub(super) const PR_ATTACH_MIME_TAG: u16 = 0x370E;

const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const MV_FLAG: u16 = 0x1000;

/// One property: its id, base type, and first value's octets.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prop<'a> {
    pub id: u16,
    ty: u16,
    value: Option<&'a [u8]>,
}

impl<'a> Prop<'a> {
    /// The value as text: UTF-16LE for `PT_UNICODE`, the code page for `PT_STRING8`.
    pub fn string(&self, cp: &'static Encoding) -> Option<String> {
        let v = self.value?;
        let s = match self.ty {
            PT_UNICODE => {
                let units: Vec<u16> = v
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                String::from_utf16_lossy(&units)
            }
            PT_STRING8 => decode_8bit(v, cp),
            _ => return None,
        };
        Some(s)
    }

    /// The value's octets, for binary, object and string types.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        matches!(self.ty, PT_BINARY | PT_OBJECT | PT_STRING8 | PT_UNICODE)
            .then_some(self.value)
            .flatten()
    }

    /// Whether the value is an object (`PT_OBJECT`: an interface id, then the data).
    pub fn is_object(&self) -> bool {
        self.ty == PT_OBJECT
    }
}

/// Reads a property list; stops quietly at the first property it cannot read. Properties
/// beyond `limits.max_properties` are counted in `skipped`.
pub(super) fn read_props<'a>(
    data: &'a [u8],
    limits: &TnefLimits,
    skipped: &mut usize,
) -> Vec<Prop<'a>> {
    let mut r = Reader::new(data);
    let Some(count) = r.u32() else {
        return Vec::new();
    };
    // Each property takes at least 8 octets: that bounds a lying count.
    let count = count as usize;
    let plausible = count.min(r.remaining() / 8);
    let keep = plausible.min(limits.max_properties);
    *skipped += count.min(plausible).saturating_sub(keep);
    let mut out = Vec::with_capacity(keep);
    for _ in 0..keep {
        match read_prop(&mut r) {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out
}

fn read_prop<'a>(r: &mut Reader<'a>) -> Option<Prop<'a>> {
    let ty = r.u16()?;
    let id = r.u16()?;
    if id >= 0x8000 {
        // A named property: GUID, then a number or a UTF-16 name.
        r.take(16)?;
        if r.u32()? == 0 {
            r.u32()?;
        } else {
            let len = r.u32()? as usize;
            r.take(len)?;
            r.align4();
        }
    }
    let base = ty & !MV_FLAG;
    let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT);
    let n = if ty & MV_FLAG != 0 || variable {
        r.u32()? as usize
    } else {
        1
    };
    if n > r.remaining() / 4 + 1 {
        return None;
    }
    let mut first = None;
    for _ in 0..n {
        let v = if variable {
            let len = r.u32()? as usize;
            let v = r.take(len)?;
            r.align4();
            v
        } else {
            r.take(fixed_size(base)?)?
        };
        first.get_or_insert(v);
    }
    Some(Prop {
        id,
        ty: base,
        value: first,
    })
}

/// The padded size of a fixed-size value, `None` for a type this reader does not know
/// (the list cannot be read past it).
fn fixed_size(base: u16) -> Option<usize> {
    match base {
        0x0001..=0x0004 | 0x000A | 0x000B => Some(4),
        0x0005..=0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    }
}
