#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| traceblast_fuzz::sent_log(data));
