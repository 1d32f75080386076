"""Run olah as a local Hub-API server for the tests, with one fix to match the Hub.

olah (offline, local git mirrors) answers a request for a file that is missing from a mirrored repo
with 401 ``RepoNotFound``; the Hub answers 404 ``EntryNotFound``. transformers probes optional files
(``processor_config.json``, a top-level ``model.safetensors`` before an index, ...) and treats the
first answer as fatal, the second as "not there". This launcher gives the Hub's answer for missing
files of local mirrors and leaves every other route of olah as it is.

Usage: python olah_hub.py -c olah.toml --log-path DIR   (the olah-cli flags)
"""

import sys

from olah import server_file_routes as routes
from olah.errors import error_entry_not_found
from olah.server import cli
from olah.server_mirror import has_local_mirror, load_local_mirror_payload


def _missing_from_local_mirror(app, repo_type, org, repo, commit, file_path) -> bool:
    ref = routes.build_repo_ref(repo_type, org, repo)
    if not has_local_mirror(app, ref):
        return False
    head = load_local_mirror_payload(app, ref, lambda r: r.get_file_head(commit_hash=commit, path=file_path),
                                     routes._get_logger(app))
    return head is None


def _hub_like(original):
    async def route(app, repo_type, org, repo, commit, file_path, request):
        if _missing_from_local_mirror(app, repo_type, org, repo, commit, file_path):
            return error_entry_not_found()
        return await original(app, repo_type=repo_type, org=org, repo=repo, commit=commit, file_path=file_path,
                              request=request)

    return route


routes.file_head_common = _hub_like(routes.file_head_common)
routes.file_get_common = _hub_like(routes.file_get_common)

if __name__ == "__main__":
    sys.exit(cli())
