"""A local filesystem that counts the bytes and the reads each lake table costs (tests and the benchmark).

    handler = CountingHandler()
    lake = Lake(pyarrow.fs.PyFileSystem(handler), "/path/to/lake")
    ... build ...
    handler.bytes_read["users"], handler.reads["users"]

In S3 every read is a ranged GET: `reads` is the number of requests a build would make, `bytes_read` their size.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.fs as pafs


class CountingFile:
    """A read-only file that adds every read and byte it hands out to per-table counters."""

    def __init__(self, inner: pafs.NativeFile, counter: Counter, reads: Counter, table: str):
        self.inner, self.counter, self.reads, self.table = inner, counter, reads, table
        self.closed = False

    def read(self, size=-1):
        data = self.inner.read() if size is None or size < 0 else self.inner.read(size)
        self.counter[self.table] += len(data)
        self.reads[self.table] += 1
        return data

    def seek(self, offset, whence=0):
        return self.inner.seek(offset, whence)

    def tell(self):
        return self.inner.tell()

    def size(self):
        return self.inner.size()

    def readable(self):
        return True

    def seekable(self):
        return True

    def writable(self):
        return False

    def close(self):
        self.closed = True
        self.inner.close()


class CountingHandler(pafs.FileSystemHandler):
    """The local filesystem, counting the bytes read from each table's files."""

    def __init__(self):
        self.local = pafs.LocalFileSystem()
        self.bytes_read: Counter = Counter()
        self.reads: Counter = Counter()

    def open_input_file(self, path):
        table = path.rstrip("/").split("/")[-2]
        counting = CountingFile(self.local.open_input_file(path), self.bytes_read, self.reads, table)
        return pa.PythonFile(counting, mode="r")

    def get_type_name(self):
        return "counting"

    def normalize_path(self, path):
        return path

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise NotImplementedError

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        self.local.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.open_input_file(path)

    def open_output_stream(self, path, metadata):
        return self.local.open_output_stream(path)

    def open_append_stream(self, path, metadata):
        raise NotImplementedError

    def equals(self, other):
        return self is other
