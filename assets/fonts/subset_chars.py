#!/usr/bin/env python3
"""Prints the characters kept in NotoSansSC-cim-subset.otf (see README.md)."""
chars = set()
# GB 2312: symbol rows A1-A9 and the level-1 hanzi rows B0-D7.
for hi in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xD8)):
    for lo in range(0xA1, 0xFF):
        try:
            chars.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
# ASCII, Latin-1 + Latin Extended-A, punctuation, super/subscripts, currency, letterlike,
# arrows, CJK symbols and punctuation, full-width forms.
for a, b in [(0x20, 0x7E), (0xA0, 0x17F), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF),
             (0x2100, 0x214F), (0x2190, 0x21FF), (0x3000, 0x303F), (0xFF00, 0xFFEF)]:
    chars.update(chr(u) for u in range(a, b + 1))
print("".join(sorted(chars)), end="")
