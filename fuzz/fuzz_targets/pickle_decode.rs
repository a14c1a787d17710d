//! Any bytes as a Fail2ban request or answer: the pickle decoder must never panic
//! and never accept a class reference in a request; what is encoded decodes to
//! itself.
#![no_main]
use ferroban_cli::pickle::{decode_answer, decode_request, encode, PyValue};
use libfuzzer_sys::fuzz_target;

/// Whether `value` holds an exception anywhere (only answers may).
fn holds_exception(value: &PyValue) -> bool {
    match value {
        PyValue::Exception { .. } => true,
        PyValue::List(items) | PyValue::Tuple(items) | PyValue::Set(items) => {
            items.iter().any(holds_exception)
        }
        PyValue::Dict(pairs) => pairs
            .iter()
            .any(|(k, v)| holds_exception(k) || holds_exception(v)),
        _ => false,
    }
}

/// Float NaN is not equal to itself; compare the encodings instead.
fn round_trips(value: &PyValue) {
    let bytes = encode(value);
    let again = decode_answer(&bytes).expect("an encoded value decodes");
    assert_eq!(encode(&again), bytes);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode_request(data) {
        assert!(!holds_exception(&value));
        round_trips(&value);
    }
    if let Ok(value) = decode_answer(data) {
        round_trips(&value);
    }
});
