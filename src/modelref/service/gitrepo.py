"""A git work tree driven through the ``git`` command line (explicit identities, no hooks).

Which catalog version the tree holds is recorded in the repository itself, as the
``Modelref-Catalog-Version`` trailer of the newest commit that carries one, so a publisher
that crashed after ``git commit`` sees its commit on the retry and does not make it twice.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TRAILER = "Modelref-Catalog-Version"
PUSHED_REF = "refs/modelref/pushed"
_TRAILER_LINE = re.compile(rf"^{TRAILER}: (\d+)\s*$", re.MULTILINE)
#: Settings for every call: the tree's own hooks, signing or line-ending rules must not
#: change what we commit.
_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.safecrlf=false",
)


class GitError(Exception):
    """A git command failed (its stderr is the message)."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


class GitRepo:
    """The work tree at ``path`` (created with ``git init`` when it does not exist)."""

    def __init__(self, path: Path, timeout: float = 300.0) -> None:
        self.path = path
        self.timeout = timeout

    def git(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> str:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        try:
            done = subprocess.run(
                ["git", *_CONFIG, *args],
                cwd=self.path,
                env=full_env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]}: no answer within {self.timeout} s") from exc
        if done.returncode != 0:
            output = done.stderr.strip() or done.stdout.strip()
            raise GitError(f"git {' '.join(args[:2])}: {output}")
        return done.stdout

    def ensure(self) -> None:
        """Make ``path`` a git work tree (branch ``main``) if it is not one yet."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.git("init", "-q", "-b", "main")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Only one publisher (thread or process) writes and commits at a time."""
        fd = os.open(self.path / ".git" / "modelref-publish.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def head(self) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "-q", "HEAD").strip() or None
        except GitError:
            return None

    def branch(self) -> str:
        return self.git("symbolic-ref", "--short", "HEAD").strip()

    def published_version(self) -> int:
        """The catalog version of the newest modelref commit (0: none yet)."""
        if self.head() is None:
            return 0
        message = self.git("log", "-1", "-E", f"--grep=^{TRAILER}: [0-9]+$", "--format=%B", "HEAD")
        found = _TRAILER_LINE.findall(message)
        return int(found[-1]) if found else 0

    def write(self, files: Mapping[str, bytes]) -> None:
        """Write work-tree files (no fsync: the commit is the durable record, and a crash
        before it rewrites them all on the retry)."""
        for rel, data in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def commit(
        self,
        paths: list[str],
        message: str,
        author: Identity,
        committer: Identity,
        timestamp: int,
    ) -> str:
        """Stage ``paths`` and commit them (even when nothing changed: one commit per call)."""
        if paths:
            self.git("add", "--", *paths)
        date = f"@{timestamp} +0000"
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": date,
        }
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-F", "-", env=env, stdin=message)
        head = self.head()
        assert head is not None
        return head

    def push(self, remote: str, branch: str) -> None:
        """Push the branch; remember what the remote has for :meth:`unpushed`."""
        head = self.head()
        if head is None:
            return
        self.git("push", "-q", remote, f"{head}:refs/heads/{branch}")
        self.git("update-ref", PUSHED_REF, head)

    def unpushed(self) -> int:
        """Commits on HEAD the remote has not received from us."""
        if self.head() is None:
            return 0
        try:
            self.git("rev-parse", "--verify", "-q", PUSHED_REF)
        except GitError:
            return int(self.git("rev-list", "--count", "HEAD").strip())
        return int(self.git("rev-list", "--count", f"{PUSHED_REF}..HEAD").strip())
