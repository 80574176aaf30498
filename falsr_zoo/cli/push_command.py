"""``falsr push``: a model directory -> a Hugging Face Hub repository."""

from __future__ import annotations

from pathlib import Path

import click

from falsr_zoo.zoo.hub_files import HUB_PREFIX


@click.command("push")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("repo_id")
@click.option("--private", is_flag=True, default=None, help="Create the repository as private.")
@click.option("--branch", help="Branch to commit to (default: main).")
@click.option("-m", "--message", help="Commit message.")
def push_command(directory: Path, repo_id: str, private: bool | None, branch: str | None, message: str | None) -> None:
    """Upload a model directory (config.json, model.safetensors, README.md) to REPO_ID on the Hub.

    The directory is checked first (weights matching config.json); the repository is created if
    needed; HF_TOKEN / `hf auth login` give the credentials, HF_ENDPOINT the server.
    """
    from falsr_zoo.zoo.model_dir import push_model_dir

    repo_id = repo_id[len(HUB_PREFIX):] if repo_id.startswith(HUB_PREFIX) else repo_id
    result = push_model_dir(directory, repo_id, private=private, branch=branch, commit_message=message)
    click.echo(f"{directory} -> {result.url}")
    click.echo(f'load it pinned: load("{HUB_PREFIX}{result.repo_id}", revision="{result.commit}")  '
               f"or  falsr upscale IMAGE --model {HUB_PREFIX}{result.repo_id} --revision {result.commit}")
