"""Git publication: every catalog version becomes one commit in a work tree laid out like the
public reference repositories, pushed to ``MODELREF_GIT_PUSH_REMOTE``.

Layout (``MODELREF_GIT_PUBLISH_DIR``), the exporter's files under the public repositories'
names: the image repository's legacy files at the root (``stable_diffusion.json``,
``blip.json``, ...), the text repository's (``models.csv``, ``db.json``) beside them (the image
repository's own ``db.json`` is an obsolete empty file modelref never writes, so nothing
collides), and the v2 files under ``v2/``. Files modelref does not produce are left alone.

Each version queues one ``git_publish`` outbox job in the transaction that made it (a
before-commit listener wired by the container). A job publishes *every* version up to its own,
in order, each from the catalog as it was at that version (:meth:`CatalogFeed.state_at`,
checked against the version's file hashes), under a lock on the work tree; a job whose version
is already published only pushes. The repository records the last published version in a
commit trailer, so a retry after a crash between ``git commit`` and the job's completion makes
no second commit. A failed push fails the job, which retries with backoff; later jobs push
the same branch, so no commit is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from modelref import faults
from modelref.domain.categories import Category
from modelref.domain.clock import Clock
from modelref.domain.jobs import JobState
from modelref.domain.releases import Release
from modelref.service import rendering
from modelref.service.feed import CatalogFeed
from modelref.service.gitrepo import TRAILER, GitError, GitRepo, Identity
from modelref.service.outbox import JobContext, Outcome
from modelref.service.versions import file_hash
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.gitpublish")

KIND = "git_publish"
#: Pushing may be down for a long while; every later job pushes too, so none is lost anyway.
MAX_ATTEMPTS = 50


def repo_path(rel: str) -> str:
    """Exporter path -> path in the work tree (``legacy/image/x.json`` -> ``x.json``)."""
    for prefix in ("legacy/image/", "legacy/text/"):
        if rel.startswith(prefix):
            return rel[len(prefix) :]
    return rel


def message(release: Release) -> str:
    """Commit message: batch title, change ids, approvers, audit head, and the trailers."""
    title = " ".join((release.title or f"Catalog version {release.version}").split())[:200]
    lines = [title, "", f"Catalog version {release.version} ({release.source})."]
    if release.change_ids:
        lines.append("Changes: " + ", ".join(map(str, release.change_ids)))
    if release.batch_ids:
        lines.append("Batches: " + ", ".join(map(str, release.batch_ids)))
    if release.approvers:
        lines.append(
            "Approved by: " + ", ".join(f"{a.username} ({a.user_id})" for a in release.approvers)
        )
    if release.actor_id:
        verb = "Applied" if release.source == "apply" else "Imported"
        lines.append(f"{verb} by: {release.actor_username} ({release.actor_id})")
    lines.append(f"Categories: {', '.join(release.categories)}")
    lines.append(f"Audit head: event {release.audit_event_id}, {release.audit_hash}")
    lines += ["", f"{TRAILER}: {release.version}", f"Modelref-Audit-Head: {release.audit_hash}"]
    return "\n".join(lines) + "\n"


class GitPublisher:
    """Publishes catalog versions into the work tree at ``settings.git_publish_dir``."""

    def __init__(self, db: Database, feed: CatalogFeed, settings: Settings, clock: Clock) -> None:
        assert settings.git_publish_dir is not None
        self.db = db
        self.feed = feed
        self.settings = settings
        self.clock = clock
        self.repo = GitRepo(settings.git_publish_dir)
        self.committer = Identity(settings.git_committer_name, settings.git_committer_email)

    # ------------------------------------------------------------------ queueing
    def queue(self, tx: Transaction) -> None:
        """Before-commit listener: a transaction that made catalog versions queues their job."""
        if tx.releases.recorded:
            version = max(tx.releases.recorded)
            tx.outbox.add(
                KIND,
                {"version": version},
                now=self.clock(),
                subject=f"catalog:{version}",
                max_attempts=MAX_ATTEMPTS,
            )

    def catch_up(self) -> int | None:
        """Start-up: queue a job when the tree is behind the database and none is waiting.

        A work tree git cannot use is logged, not raised: serving must not depend on it, and
        the publication jobs report the problem until it is fixed.
        """
        try:
            self.repo.ensure()
            published = self.repo.published_version()
        except (GitError, OSError) as exc:
            log.error("git publication: cannot read %s: %s", self.repo.path, exc)
            return None
        behind = self.feed.latest_version()
        if behind <= published:
            return None
        with self.db.write() as tx:
            waiting = tx.outbox.list({JobState.pending, JobState.running}, {KIND}, 1)
            if waiting:
                return None
            tx.outbox.add(KIND, {"version": behind}, now=self.clock(), subject=f"catalog:{behind}")
        return behind

    # ------------------------------------------------------------------ the job
    def handle(self, job: Job, ctx: JobContext) -> Outcome:
        """Outbox handler: publish every version up to the job's, then push."""
        return Outcome(result=self.publish(int(job.payload["version"]), ctx.heartbeat))

    def publish(self, target: int, heartbeat: Callable[[], None] = lambda: None) -> dict[str, Any]:
        self.repo.ensure()
        commits = []
        with self.repo.lock():
            done = self.repo.published_version()
            for version in range(done + 1, target + 1):
                commits.append(self._commit(version, first=version == done + 1 and done == 0))
                faults.point("git_after_commit")  # crash seam: committed, job not finished
                heartbeat()
            pushed = False
            if self.settings.git_push_remote:
                self.repo.push(self.settings.git_push_remote, self.repo.branch())
                pushed = True
        if commits:
            log.info("published catalog versions %d..%d to git", done + 1, target)
        return {"published": max(done, target), "commits": commits, "pushed": pushed}

    def _commit(self, version: int, first: bool) -> str:
        release = self.feed.manifest(version)
        # The first commit writes every category (a full export); later ones what changed.
        categories = [c.value for c in Category] if first else release.categories
        states = self.feed.state_at(version, categories)
        files: dict[str, bytes] = {}
        for category, rows in states.items():
            expected = release.hashes.get(category)
            if expected is not None and file_hash(rows) != expected:
                raise RuntimeError(
                    f"catalog version {version}: rebuilt {category} does not match its hash"
                )
            for rel, data in rendering.render(Category(category), rows, "both").items():
                files[repo_path(rel)] = data
        self.repo.write(files)
        author = Identity(
            release.actor_username or self.committer.name,
            f"{release.actor_id}@users.modelref.invalid"
            if release.actor_id
            else self.committer.email,
        )
        return self.repo.commit(
            sorted(files), message(release), author, self.committer, release.created_at
        )

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """Last published version, what is behind, unpushed commits, waiting and dead jobs."""
        self.repo.ensure()
        published = self.repo.published_version()
        latest = self.feed.latest_version()
        with self.db.read() as tx:
            counts = tx.outbox.counts()
            dead = tx.outbox.list({JobState.dead}, {KIND}, 20)
        return {
            "directory": str(self.repo.path),
            "branch": self.repo.branch(),
            "head": self.repo.head(),
            "published_version": published,
            "latest_version": latest,
            "behind": max(0, latest - published),
            "remote": self.settings.git_push_remote,
            "unpushed_commits": self.repo.unpushed() if self.settings.git_push_remote else None,
            "waiting_jobs": sum(
                n
                for (kind, state), n in counts.items()
                if kind == KIND and state in (JobState.pending, JobState.running)
            ),
            "dead_jobs": [
                {"job_id": j.job_id, "version": j.payload.get("version"), "error": j.last_error}
                for j in dead
            ],
        }
