"""Push a finished dataset folder to the Hugging Face Hub: one commit, tagged v{version}.

The folder is complete on disk before anything here runs, so every failure says so and that
rerunning the same command pushes it. A rerun is safe: the Hub drops files whose content it
already has, and a tag that already points at the resulting commit is accepted. A tag that
points elsewhere is refused: a published version never moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracegen.errors import PipelineError


class PushError(PipelineError):
    """Pushing failed; the message says why and what to do. The folder on disk is complete."""


@dataclass(frozen=True, slots=True)
class PushResult:
    repo_id: str
    commit_url: str
    tag: str
    created: bool  # True: this push made the tag; False: the tag already marked this same commit


def push_folder(folder: Path, repo_id: str, version: str, *, private: bool = False,
                token: str | None = None, endpoint: str | None = None) -> PushResult:
    """Create the dataset repo if needed, commit every file of `folder` at once, tag it v{version}."""
    import httpx2  # huggingface_hub's HTTP client: its transport errors are the network failures
    from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    folder = Path(folder)
    tag = f"v{version}"
    rerun = (f"The dataset folder {folder} is complete but was not pushed: once this is fixed, "
             "run the same `selfexec publish` command again.")

    # Cheap checks first, so a typo fails before any request or any hashing of large files.
    # The Hub would accept a bare NAME (under the token's user); we want the owner spelled out.
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise PushError(f"repo id {repo_id!r} is not ORG/NAME (e.g. my-org/selfexec-traces). {rerun}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise PushError(f"repo id {repo_id!r} is not valid on the Hub: {e} {rerun}") from None
    if not version or not all(c.isalnum() or c in "._+-" for c in version) or ".." in version:
        raise PushError(f"version {version!r} cannot name a git tag: use e.g. 1.2.0. {rerun}")
    if not folder.is_dir():
        raise PushError(f"dataset folder {folder} does not exist: build it first (`selfexec publish` without --push)")
    # The same files upload_folder skips: git internals and the local download cache.
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and ".git" not in p.relative_to(folder).parts
                   and not p.relative_to(folder).as_posix().startswith(".cache/huggingface/"))
    if not files:
        raise PushError(f"dataset folder {folder} is empty: nothing to push")

    # The library reads this flag at request time (constants.is_offline_mode); saying it here
    # beats its per-request "Cannot reach ..." error.
    if constants.is_offline_mode():
        raise PushError("Hugging Face offline mode is on (HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1): "
                        f"unset it to push. {rerun}")
    token = token or get_token()
    if not token:
        raise PushError(f"no Hugging Face token: the dataset folder {folder} is complete but was not pushed. "
                        "Log in with `hf auth login` (or set HF_TOKEN) and run the same `selfexec publish` "
                        "command again.")

    api = HfApi(endpoint=endpoint, token=token)
    # create_commit rather than upload_folder: with hf_xet installed upload_folder may split a
    # large folder into several commits, and a version must be exactly one commit.
    ops = [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p))
           for p in files]
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.create_commit(repo_id, ops, commit_message=f"selfexec dataset {tag}", repo_type="dataset")
        try:
            api.create_tag(repo_id, tag=tag, revision=commit.oid, tag_message=f"selfexec dataset {tag}",
                           repo_type="dataset")
            created = True
        except HfHubHTTPError as e:
            if e.response.status_code != 409:  # 409: the tag exists; fine only on this very commit
                raise
            tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id, repo_type="dataset").tags}
            if tags.get(tag) != commit.oid:
                raise PushError(
                    f"tag {tag} already exists on {repo_id} at commit {str(tags.get(tag))[:12]}, but this "
                    f"folder is commit {commit.oid[:12]} (now on main, untagged). Published versions do not "
                    f"move: pick a new --version and run `selfexec publish` again.") from None
            created = False
    except HfHubHTTPError as e:
        status = e.response.status_code
        hint = ""
        if status in (401, 403):
            hint = f" Check that your token can write to {repo_id.split('/')[0]} (`hf auth whoami`)."
        why = (e.server_message or str(e).splitlines()[0]).strip().rstrip(".")
        raise PushError(f"the Hub at {api.endpoint} answered HTTP {status}: {why}.{hint} {rerun}") from e
    except (httpx2.TransportError, OfflineModeIsEnabled) as e:
        raise PushError(f"could not reach the Hub at {api.endpoint} ({type(e).__name__}: {e}). {rerun}") from e
    except ValueError as e:  # chiefly the Hub's check of README.md's YAML header; the text says what
        raise PushError(f"huggingface_hub stopped the push: {e} {rerun}") from e
    return PushResult(repo_id=repo_id, commit_url=commit.commit_url, tag=tag, created=created)
