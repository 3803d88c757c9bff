"""Removing the grader's scratch folders, whatever a submission left in them.

A submission can leave a directory tree thousands of levels deep. ``shutil.rmtree`` walks
it by recursion (a ``RecursionError`` that no ``ignore_errors`` catches) and by ever longer
paths (longer than the system allows), so one submission could end the whole grading run.
``remove_tree`` instead flattens the tree as it goes: it moves the contents of each
sub-folder up into the top folder, then removes the emptied sub-folder, holding at most two
open folders and never building a long path.
"""

import contextlib
import itertools
import os
import stat

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def remove_tree(path):
    """Remove ``path`` and everything in it, as far as possible; never raises."""
    try:
        top = os.open(path, _FOLDER_FLAGS)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)  # a file, a link, or nothing at all
        return
    fresh_names = (f".removing-{n}" for n in itertools.count())
    try:
        with contextlib.suppress(OSError):
            os.chmod(top, stat.S_IRWXU)  # a submission may have taken its permissions away
        while True:
            with os.scandir(top) as entries:
                names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
            if not names:
                break
            progress = False
            for name, is_folder in names:
                try:
                    if is_folder:
                        _move_contents_up(top, name, fresh_names)
                        os.rmdir(name, dir_fd=top)
                    else:
                        os.unlink(name, dir_fd=top)
                    progress = True
                except OSError:
                    continue
            if not progress:
                break  # what is left cannot be removed (e.g. a mount point)
    finally:
        os.close(top)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _move_contents_up(top, name, fresh_names):
    """Rename everything in ``top/name`` to a new name directly in ``top``."""
    with contextlib.suppress(OSError):
        os.chmod(name, stat.S_IRWXU, dir_fd=top, follow_symlinks=False)
    inner = os.open(name, _FOLDER_FLAGS, dir_fd=top)
    try:
        with os.scandir(inner) as entries:
            children = [entry.name for entry in entries]
        for child in children:
            target = next(fresh_names)
            while _exists(top, target):
                target = next(fresh_names)
            os.rename(child, target, src_dir_fd=inner, dst_dir_fd=top)
    finally:
        os.close(inner)


def _exists(folder_fd, name):
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
