"""What the learner's kernel may not do while it is graded, as an audit hook it cannot remove.

The grader runs this source in the learner's kernel before the first cell. Python's audit
hooks (PEP 578) cannot be taken out again, and this one uses only its own default
arguments, so rebinding builtins, ``os`` or ``pathlib`` later does not change it. It refuses,
with ``PermissionError``:

- reading or writing any ``.ipynb`` file (the solution notebooks among them);
- writing, renaming or deleting anything outside the kernel's own temporary folder (the
  installed package, the checks, the next learner's notebook);
- starting processes, loading native code through ctypes, walking the garbage collector
  to find the grader's objects, opening network connections, changing folder.

The grade never depends on this hook: the checks run in the grader's process on plain data.
The hook keeps a learner's notebook from reading the solutions or changing files that later
grading runs would read.
"""

SOURCE = r'''
def __dcgan_sandbox(root):
    import os
    import sys

    denied = frozenset({
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
        "os.forkpty", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
        "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
        "ctypes.cdata/buffer", "ctypes.string_at", "ctypes.wstring_at", "ctypes.addressof",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "socket.connect",
        "socket.bind", "socket.getaddrinfo", "socket.sendto", "os.chdir", "os.chroot",
        "os.symlink", "os.link", "sys.addaudithook",
        "webbrowser.open", "shutil.chown", "os.chflags", "os.lchflags",
    })
    changes = frozenset({"os.rename", "os.remove", "os.rmdir", "os.truncate", "os.chmod",
                         "os.chown", "os.utime", "os.mkdir", "os.setxattr", "os.removexattr",
                         "shutil.rmtree", "shutil.move", "shutil.copyfile", "shutil.copymode",
                         "shutil.copystat", "shutil.copytree", "shutil.make_archive",
                         "shutil.unpack_archive"})
    writing = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    cwd = os.getcwd()

    def plain(path, _str=str, _bytes=bytes, _type=type, _cwd=cwd, _error=PermissionError):
        if _type(path) is _bytes:
            path = path.decode("utf-8", "surrogateescape")
        if _type(path) is not _str:
            raise _error("the grader allows only plain str paths")
        if not path.startswith("/"):
            path = _cwd + "/" + path
        if "/../" in path + "/":
            raise _error("the grader does not allow '..' in a path")
        return path

    def inside(path, _root=root + "/", _plain=plain):
        return (_plain(path) + "/").startswith(_root)

    def hook(event, args, _denied=denied, _changes=changes, _writing=writing, _plain=plain,
             _inside=inside, _int=int, _type=type, _str=str, _bytes=bytes,
             _error=PermissionError):
        if event in _denied:
            raise _error(f"the grader does not allow {event}")
        if event == "open":
            path, mode, flags = args
            if _type(path) is _int:
                return
            text = _plain(path)
            if text.lower().endswith(".ipynb"):
                raise _error("the grader does not let a notebook open notebooks")
            wants_write = (_type(flags) is _int and flags & _writing) or (
                _type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode
                                         or "+" in mode))
            if wants_write and not _inside(path):
                raise _error("the grader allows writing only in the notebook's own folder")
        elif event in _changes:
            for arg in args:
                if _type(arg) is _str or _type(arg) is _bytes:
                    if not _inside(arg):
                        raise _error(f"the grader does not allow {event} outside the "
                                     f"notebook's own folder")

    sys.addaudithook(hook)


__dcgan_sandbox({root!r})
del __dcgan_sandbox
'''


def source(root: str) -> str:
    """The hook's source for a kernel whose own folder is ``root`` (an absolute path)."""
    return SOURCE.replace("{root!r}", repr(root))
