// The native value tree: values crossing threads are encoded on one side (JS on the main
// thread, Lua on a worker) into a compact byte string and decoded on the other. Only plain
// bytes cross threads; V8 is never touched off the main thread. lib/marshal.ts implements
// the JavaScript half of the same format.
//
// Layout: [u8 flags][u32 count] value*
//   flags bit 0: the tree holds REF nodes; bit 1: SREF nodes; bit 2: SHAPE nodes
//   value := NIL | FALSE | TRUE | INT i64 | INT32 i32 | FLOAT f64 | STR u32 bytes
//          | SEQ u32 value*              (a table with keys 1..n)
//          | TABLE u32 (key value)*      (any other table)
//          | SHAPE u32 n, key*n, value*n (a table whose n >= 1 keys are strings (STR/SREF);
//                                         defines the next shape of the tree: those keys)
//          | SHAPED u32 s, value*        (a table with the keys of the s-th SHAPE of this tree,
//                                         one value per key, in the shape's order)
//          | REF u32                     (the n-th SEQ/TABLE/SHAPE/SHAPED of this tree, in
//                                         order of appearance)
//          | SREF u32                    (the n-th long STR of this tree, in order of appearance;
//                                         long: at least kMinSharedString bytes)
// All integers are little-endian. Decoders check every count and length against the bytes
// that are left: a malformed tree is an error, never a read out of bounds.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace luapool {

enum Tag : uint8_t {
  kTagNil = 0,
  kTagFalse = 1,
  kTagTrue = 2,
  kTagInt = 3,
  kTagFloat = 4,
  kTagStr = 5,
  kTagSeq = 6,
  kTagTable = 7,
  kTagRef = 8,
  kTagInt32 = 9,  // an integer that fits in 32 bits (the common case, half the bytes)
  kTagStrRef = 10,  // a long string written before in the same tree
  kTagShape = 11,   // a string-keyed table that defines a shape (its key list)
  kTagShaped = 12,  // a table of a shape defined before in the same tree: values only
};

constexpr uint8_t kFlagHasRefs = 1;
constexpr uint8_t kFlagHasStrRefs = 2;
constexpr uint8_t kFlagHasShapes = 4;
constexpr uint8_t kKnownFlags = kFlagHasRefs | kFlagHasStrRefs | kFlagHasShapes;
constexpr int kValueFormat = 4;  // bump on any change; lib/native.ts must match
constexpr size_t kHeaderSize = 5;
// Strings at least this long are written once per tree; later occurrences of the same
// string (the same Lua string object, or the same JS string) are SREFs. Both encoders and
// both decoders count long strings the same way, so it is part of the format.
constexpr size_t kMinSharedString = 32;
// Encoders write tables of at most this many string keys as shapes (records, not dictionaries).
constexpr size_t kMaxShapeKeys = 64;
// Deepest tree a decoder accepts (encoders stop at MarshalLimits::maxDepth, 200).
constexpr int kMaxDecodeDepth = 1000;

// The byte budget for trees encoded on the Lua side (results, error values, posts, host
// call arguments). With shared tables and long strings written once, a value encodes to
// at most about 3 times the Lua memory it occupies, so with a memory limit the budget is
// max(4 x memoryLimit, 1 MiB): it only stops a runaway. Without one: 64 MiB. Never more
// than 1 GiB (string lengths are 32-bit; the main thread holds two copies while decoding).
constexpr size_t kMinEncodeBudget = size_t{1} << 20;
constexpr size_t kUnlimitedEncodeBudget = size_t{64} << 20;
constexpr size_t kMaxEncodeBudget = size_t{1} << 30;
inline size_t encodeBudgetFor(size_t memoryLimit) {
  if (memoryLimit == 0) return kUnlimitedEncodeBudget;
  if (memoryLimit >= kMaxEncodeBudget / 4) return kMaxEncodeBudget;
  return memoryLimit * 4 > kMinEncodeBudget ? memoryLimit * 4 : kMinEncodeBudget;
}

// Limits that keep a hostile value from exhausting the host.
struct MarshalLimits {
  uint32_t maxDepth = 200;  // nested tables
  size_t maxBytes = 0;      // encoded size; 0: the state's budget (see setEncodeBudget)
};

// Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
inline bool validUtf8(const char* p, size_t n) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(p);
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { ++i; continue; }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
    }
    if (len == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0))) return false;
    if (len == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))) return false;
    i += len;
  }
  return true;
}

class ValueWriter {
 public:
  explicit ValueWriter(std::string& out) : out_(out) {}
  void header(uint8_t flags, uint32_t count) {
    out_.push_back(static_cast<char>(flags));
    u32(count);
  }
  void tag(Tag t) { out_.push_back(static_cast<char>(t)); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i64(int64_t v) { raw(&v, 8); }
  void i32(int32_t v) { raw(&v, 4); }
  void f64(double v) { raw(&v, 8); }
  void bytes(const char* s, size_t n) {
    u32(static_cast<uint32_t>(n));
    out_.append(s, n);
  }
  size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }
  void patchU32(size_t at, uint32_t v) { std::memcpy(&out_[at], &v, 4); }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

// Reads a tree. Callers check has(n) before reading n bytes; remaining() bounds counts.
class ValueReader {
 public:
  ValueReader(const char* data, size_t size) : p_(data), end_(data + size) {}
  bool has(size_t n) const { return remaining() >= n; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  uint8_t u8() { return static_cast<uint8_t>(*p_++); }
  uint32_t u32() { uint32_t v; std::memcpy(&v, p_, 4); p_ += 4; return v; }
  int64_t i64() { int64_t v; std::memcpy(&v, p_, 8); p_ += 8; return v; }
  int32_t i32() { int32_t v; std::memcpy(&v, p_, 4); p_ += 4; return v; }
  double f64() { double v; std::memcpy(&v, p_, 8); p_ += 8; return v; }
  const char* take(size_t n) { const char* s = p_; p_ += n; return s; }
  uint8_t peek() const { return static_cast<uint8_t>(*p_); }
  bool atEnd() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace luapool
