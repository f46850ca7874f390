//! Throwaway probe for bench/NOTES-19.md (not part of the package): one-call inflate and CRC-32
//! in wasm, zlib-rs against miniz_oxide and crc32fast, on the same buffers.
#[no_mangle]
pub extern "C" fn alloc(n: usize) -> *mut u8 {
    let mut v = vec![0u8; n];
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}
#[no_mangle]
pub unsafe extern "C" fn zrs(inp: *const u8, len: usize, out: *mut u8, cap: usize) -> isize {
    let i = std::slice::from_raw_parts(inp, len);
    let o = std::slice::from_raw_parts_mut(out, cap);
    let (d, rc) = zlib_rs::decompress_slice(o, i, zlib_rs::InflateConfig { window_bits: 31 });
    if rc != zlib_rs::ReturnCode::Ok { return -(rc as isize) - 1000; }
    d.len() as isize
}
#[no_mangle]
pub unsafe extern "C" fn miniz(inp: *const u8, len: usize, out: *mut u8, cap: usize) -> isize {
    let i = std::slice::from_raw_parts(inp, len);
    let o = std::slice::from_raw_parts_mut(out, cap);
    match miniz_oxide::inflate::decompress_slice_iter_to_slice(o, std::iter::once(&i[10..len - 8]), false, true) {
        Ok(n) => n as isize,
        Err(_) => -1,
    }
}
#[no_mangle]
pub unsafe extern "C" fn crc_fast(inp: *const u8, len: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(std::slice::from_raw_parts(inp, len));
    h.finalize()
}
#[no_mangle]
pub unsafe extern "C" fn crc_zrs(inp: *const u8, len: usize) -> u32 {
    zlib_rs::crc32::crc32(0, std::slice::from_raw_parts(inp, len))
}
