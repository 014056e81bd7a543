"""push_folder against a test double of the Hub's HTTP API, through huggingface_hub's whole stack.

FakeHub is a real HTTP server on 127.0.0.1 (http.server, one thread per request) that answers only
the endpoints huggingface_hub 2.x calls for create_repo, create_commit (validate-yaml, preupload,
commit), create_tag, repo_info and list_repo_refs. Every file is "regular" (inlined as base64 in
the commit NDJSON: no LFS, no xet), and preupload reports the git oid of what a repo already holds,
as the Hub does, so an unchanged rerun makes no commit. Anything else gets a 404 and is recorded
in `unknown`, so a test notices if the client starts calling something new.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.publish.hub import PushError, PushResult, push_folder

TOKEN = "hf_fake_secret_token_0123456789"
_REPO_API = re.compile(r"^/api/datasets/([^/]+/[^/]+)(?:/(preupload|commit|tag|revision)/([^/?]+)|/(refs))?$")


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Any]] = {}  # repo_id -> {private, files, head, tags}
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.creates: list[dict[str, Any]] = []
        self.commits: list[dict[str, Any]] = []  # {repo_id, summary, files: {path: bytes}, oid}
        self.tags: list[dict[str, Any]] = []  # {repo_id, tag, revision, message}
        self.auth: set[str | None] = set()
        self.unknown: list[tuple[str, str]] = []
        self.fail: dict[str, tuple[int, dict]] = {}  # endpoint name -> (status, json body)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.thread.join(5)
        self.httpd.server_close()

    # --- the endpoints: each returns (status, json body) ---

    def create(self, body: dict) -> tuple[int, Any]:
        self.creates.append(body)
        repo_id = f"{body['organization']}/{body['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{repo_id}"}
        self.repos[repo_id] = {"private": body.get("visibility") == "private", "files": {}, "head": "0" * 40,
                               "tags": {}}
        return 200, {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id}

    def preupload(self, repo: dict, body: dict) -> tuple[int, Any]:
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": git_oid(repo["files"][f["path"]]) if f["path"] in repo["files"] else None}
                 for f in body["files"]]
        return 200, {"files": files, "commitOid": repo["head"]}

    def commit(self, repo_id: str, repo: dict, raw: bytes) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        assert lines[0]["key"] == "header", lines[0]
        files: dict[str, bytes] = {}
        for line in lines[1:]:
            if line["key"] != "file" or line["value"].get("encoding") != "base64":
                return 400, {"error": f"the fake Hub only takes inline base64 files, got {line['key']}"}
            files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
        oid = hashlib.sha1(repo["head"].encode() + raw).hexdigest()
        repo["files"].update(files)
        repo["head"] = oid
        self.commits.append({"repo_id": repo_id, "summary": lines[0]["value"]["summary"], "files": files, "oid": oid})
        return 200, {"commitUrl": f"{self.url}/datasets/{repo_id}/commit/{oid}", "commitOid": oid,
                     "pullRequestUrl": None}

    def tag(self, repo_id: str, repo: dict, revision: str, body: dict) -> tuple[int, Any]:
        if body["tag"] in repo["tags"]:
            return 409, {"error": f"Tag {body['tag']} already exists"}
        repo["tags"][body["tag"]] = repo["head"] if revision == "main" else revision
        self.tags.append({"repo_id": repo_id, "tag": body["tag"], "revision": revision, "message": body.get("message")})
        return 200, {}

    def route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if (method, path) == ("POST", "/api/validate-yaml"):
            return 200, {"errors": [], "warnings": []}
        if (method, path) == ("POST", "/api/repos/create"):
            return self.fail.get("create") or self.create(json.loads(raw))
        m = _REPO_API.match(path)
        if not m:
            self.unknown.append((method, path))
            return 404, {"error": f"the fake Hub has no {method} {path}"}
        repo_id, action, arg, refs = m.groups()
        if action and action in self.fail:
            return self.fail[action]
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"error": "Repository not found"}
        if method == "GET" and refs:
            return 200, {"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo["head"]}],
                         "converts": [], "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": c}
                                                  for t, c in repo["tags"].items()]}
        if method == "GET" and action in (None, "revision") and not refs:
            return 200, {"id": repo_id, "sha": repo["head"], "private": repo["private"]}
        if method == "POST" and action == "preupload":
            return self.preupload(repo, json.loads(raw))
        if method == "POST" and action == "commit":
            return self.commit(repo_id, repo, raw)
        if method == "POST" and action == "tag":
            return self.tag(repo_id, repo, arg, json.loads(raw))
        self.unknown.append((method, path))
        return 404, {"error": f"the fake Hub has no {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?")[0]
                with hub.lock:
                    hub.requests.append((self.command, path))
                    hub.auth.add(self.headers.get("authorization"))
                    code, body = hub.route(self.command, path, raw)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if code == 404 and body.get("error") == "Repository not found":
                    self.send_header("X-Error-Code", "RepoNotFound")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _serve

        return Handler


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo conftest's HF_HUB_OFFLINE=1 for this test: huggingface_hub read the variable once at
    import into constants.HF_HUB_OFFLINE, and checks that attribute before every request."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub(online: None) -> FakeHub:
    with FakeHub() as server:
        yield server


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    (root / "data" / "sft").mkdir(parents=True)
    (root / "plots").mkdir()
    (root / "README.md").write_text("---\nlicense: apache-2.0\nconfigs:\n- config_name: sft\n  data_files:\n"
                                    "  - split: train\n    path: data/sft/train-*.parquet\n---\n# selfexec\n")
    table = pa.table({"messages": [[{"role": "user", "content": "hi"}]], "id": ["t0"]})
    pq.write_table(table, root / "data" / "sft" / "train-00000-of-00001.parquet")
    (root / "plots" / "funnel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (root / "selfexec.json").write_text(json.dumps({"version": "1.2.0", "run": "r1"}))
    return root


def on_disk(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_push_uploads_every_file_in_one_commit_and_tags_it(hub: FakeHub, folder: Path) -> None:
    result = push_folder(folder, "my-org/traces", "1.2.0", private=True, token=TOKEN, endpoint=hub.url)

    assert hub.creates == [{"name": "traces", "organization": "my-org", "visibility": "private", "type": "dataset"}]
    assert hub.repos["my-org/traces"]["private"] is True
    assert len(hub.commits) == 1
    commit = hub.commits[0]
    assert commit["repo_id"] == "my-org/traces" and "1.2.0" in commit["summary"]
    expected = on_disk(folder)
    assert set(expected) == {"README.md", "data/sft/train-00000-of-00001.parquet", "plots/funnel.png",
                             "selfexec.json"}
    assert commit["files"] == expected  # same paths, same bytes
    assert hub.tags == [{"repo_id": "my-org/traces", "tag": "v1.2.0", "revision": commit["oid"],
                         "message": "selfexec dataset v1.2.0"}]
    assert result == PushResult(repo_id="my-org/traces", commit_url=f"{hub.url}/datasets/my-org/traces/commit/"
                                f"{commit['oid']}", tag="v1.2.0", created=True)
    assert hub.auth == {f"Bearer {TOKEN}"}
    assert hub.unknown == []


def test_same_version_again_is_a_no_op_that_succeeds(hub: FakeHub, folder: Path) -> None:
    first = push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)
    again = push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)

    assert len(hub.commits) == 1  # the Hub reported every file unchanged: no second commit
    assert len(hub.tags) == 1
    assert again == PushResult(repo_id="my-org/traces", commit_url=first.commit_url, tag="v1.2.0", created=False)
    assert hub.repos["my-org/traces"]["private"] is False
    assert hub.unknown == []


def test_same_version_with_changed_files_is_refused(hub: FakeHub, folder: Path) -> None:
    push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)
    (folder / "selfexec.json").write_text(json.dumps({"version": "1.2.0", "run": "r2"}))

    with pytest.raises(PushError, match=r"tag v1\.2\.0 already exists.*new --version") as err:
        push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)
    assert len(hub.commits) == 2 and list(hub.commits[1]["files"]) == ["selfexec.json"]
    assert hub.repos["my-org/traces"]["tags"] == {"v1.2.0": hub.commits[0]["oid"]}  # the tag did not move
    assert TOKEN not in str(err.value)

    bumped = push_folder(folder, "my-org/traces", "1.2.1", token=TOKEN, endpoint=hub.url)
    assert bumped.created and hub.repos["my-org/traces"]["tags"]["v1.2.1"] == hub.commits[1]["oid"]


def test_no_token_says_how_to_log_in(hub: FakeHub, folder: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    # the token file's path was computed from HF_HOME at import: point it into the empty home too
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))

    with pytest.raises(PushError) as err:
        push_folder(folder, "my-org/traces", "1.2.0", endpoint=hub.url)
    for needle in (str(folder), "hf auth login", "HF_TOKEN"):
        assert needle in str(err.value)
    assert hub.requests == []


def test_401_on_create_says_status_and_folder(hub: FakeHub, folder: Path) -> None:
    hub.fail["create"] = (401, {"error": "Invalid username or password."})

    with pytest.raises(PushError) as err:
        push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)
    msg = str(err.value)
    assert "401" in msg and str(folder) in msg and "Invalid username or password." in msg
    assert "hf auth whoami" in msg and TOKEN not in msg
    assert hub.commits == [] and hub.tags == []


def test_500_on_commit_passes_the_server_message_on(hub: FakeHub, folder: Path) -> None:
    hub.fail["commit"] = (500, {"error": "Internal Error - We're working hard to fix this"})

    with pytest.raises(PushError) as err:
        push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=hub.url)
    msg = str(err.value)
    assert "500" in msg and "working hard" in msg and str(folder) in msg
    assert hub.tags == []


def test_connection_refused_is_a_push_error(online: None, folder: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    with pytest.raises(PushError) as err:
        push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint=f"http://127.0.0.1:{port}")
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and str(folder) in msg and TOKEN not in msg


@pytest.mark.parametrize("repo_id", ["noslash", "a/b/c", "/name", "org/", "org/bad name", "org/x..y"])
def test_bad_repo_id_fails_before_any_request(hub: FakeHub, folder: Path, repo_id: str) -> None:
    with pytest.raises(PushError, match="ORG/NAME|not valid on the Hub"):
        push_folder(folder, repo_id, "1.2.0", token=TOKEN, endpoint=hub.url)
    assert hub.requests == []


def test_offline_mode_is_named(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PushError, match="HF_HUB_OFFLINE=1") as err:
        push_folder(folder, "my-org/traces", "1.2.0", token=TOKEN, endpoint="http://127.0.0.1:9")
    assert str(folder) in str(err.value)
