//! Fuzzer-chosen chunking, shared by the targets that check a stream parser gives the same
//! result however its input is cut (not a target itself).

/// Cuts `input` into pieces of 1..=`max` octets picked by a small LCG seeded with `seed`;
/// seed 0 gives the whole input as one piece.
pub fn chunks(input: &[u8], seed: u8, max: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = input;
    let mut state = u32::from(seed) | 1;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = if seed == 0 {
            rest.len()
        } else {
            1 + (state >> 16) as usize % max
        };
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}
