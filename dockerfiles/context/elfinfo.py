"""Read what the dynamic loader reads from an ELF file: interpreter, NEEDED, RPATH,
RUNPATH, SONAME and the machine. Pure Python, any architecture, nothing executed:
this is how the deps build resolves an arm64 bundle's libraries on an amd64 builder.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 1, 5, 14, 15, 29
MACHINES = {
    0x3E: "amd64",
    0xB7: "arm64",
    0x03: "386",
    0x28: "arm",
    0x15: "ppc64le",
    0x16: "s390x",
    0xF3: "riscv64",
}


@dataclass
class Elf:
    path: Path
    machine: str
    interpreter: str = ""
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)
    soname: str = ""


def is_elf(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read(p: Path) -> Elf | None:
    """The dynamic-linking facts of ``p``; None when it is not an ELF file."""
    data = p.read_bytes()
    if data[:4] != b"\x7fELF":
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if is64:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "Q", data, 32)[0],
            *struct.unpack_from(end + "HH", data, 54),
        )
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "I", data, 28)[0],
            *struct.unpack_from(end + "HH", data, 42),
        )
    elf = Elf(path=p, machine=MACHINES.get(machine, hex(machine)))
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        o = phoff + i * phentsize
        if is64:
            ptype, _flags, off, vaddr, _paddr, filesz = struct.unpack_from(end + "IIQQQQ", data, o)
        else:
            ptype, off, vaddr, _paddr, filesz = struct.unpack_from(end + "IIIII", data, o)
        if ptype == PT_LOAD:
            loads.append((vaddr, off, filesz))
        elif ptype == PT_DYNAMIC:
            dynamic = (off, filesz)
        elif ptype == PT_INTERP:
            elf.interpreter = data[off : off + filesz].split(b"\0", 1)[0].decode()
    if dynamic is None:
        return elf
    entries: list[tuple[int, int]] = []
    fmt, size = (end + "qQ", 16) if is64 else (end + "iI", 8)
    off, filesz = dynamic
    for o in range(off, off + filesz, size):
        tag, val = struct.unpack_from(fmt, data, o)
        if tag == 0:
            break
        entries.append((tag, val))
    strtab_addr = next((v for t, v in entries if t == DT_STRTAB), None)
    if strtab_addr is None:
        return elf
    strtab = next(
        (
            off + strtab_addr - vaddr
            for vaddr, off, sz in loads
            if vaddr <= strtab_addr < vaddr + sz
        ),
        strtab_addr,
    )

    def string(i: int) -> str:
        s = strtab + i
        return data[s : data.index(b"\0", s)].decode()

    for tag, val in entries:
        if tag == DT_NEEDED:
            elf.needed.append(string(val))
        elif tag == DT_RPATH:
            elf.rpath = [e for e in string(val).split(":") if e]
        elif tag == DT_RUNPATH:
            elf.runpath = [e for e in string(val).split(":") if e]
        elif tag == DT_SONAME:
            elf.soname = string(val)
    return elf


def elves(root: Path) -> list[Elf]:
    """Every regular ELF file under ``root`` (symlinks are not followed)."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and is_elf(p):
            e = read(p)
            if e is not None:
                out.append(e)
    return out
