"""Save, load and share any family's module as a model directory, through huggingface_hub's mixin.

Every family's module class inherits :class:`PretrainedMixin`, a
:class:`huggingface_hub.ModelHubMixin` whose ``coders`` turn the genome argument into its
canonical string. The mixin records the builder's arguments when a module is constructed;
:meth:`~PretrainedMixin.save_pretrained` writes them, with the family's task and the metrics
given, as a model directory (:mod:`falsr_zoo.zoo.model_dir`: ``config.json``,
``model.safetensors``, ``README.md``); :meth:`~PretrainedMixin.from_pretrained` builds the
module back from one (a directory or a Hub repository, safetensors only), and
:meth:`~PretrainedMixin.push_to_hub` publishes one. A family may add tensors that describe the
architecture to the weights file (:meth:`~PretrainedMixin.architecture_tensors`: FALSR's genome,
so that spandrel, which sees only the tensors, can rebuild the network); reading checks and drops
them, and a file without them (older directories) loads as before.

The model card is rendered by the card code of the application layer, which the families must
not import: it is named here by dotted path (:data:`CARD_RENDERER`) and resolved on first use,
or passed in by the caller (``card=``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from huggingface_hub import ModelCard, ModelHubMixin

from falsr_zoo._plugins import resolve
from falsr_zoo.errors import ModelDirError, WeightsMismatchError
from falsr_zoo.families.table import get_family
from falsr_zoo.zoo.model_dir import (
    ModelConfig,
    PushResult,
    push_model_dir,
    read_model_dir,
    resolve_model_dir,
    write_model_dir,
)
from falsr_zoo.zoo.weights import load_state_dict, read_metadata

__all__ = ["CARD_RENDERER", "PretrainedMixin"]

CARD_RENDERER = "falsr_zoo.cards:render_directory_card"
"""``ModelConfig -> str``: the card of a model directory (the application layer's card code)."""

T = TypeVar("T", bound="PretrainedMixin")


class PretrainedMixin(ModelHubMixin, library_name="falsr-zoo", repo_url=None, tags=["falsr-zoo", "safetensors"]):
    """Model-directory save / load / push for a family's module.

    A subclass declares its family (``family = "falsr"``), keeps its genome in ``self.genome``
    and passes ``coders={GenomeType: (str, parse)}`` so the recorded arguments are JSON.

    Example:
        >>> model = load("FALSR-B")                                   # doctest: +SKIP
        >>> model.save_pretrained("my-falsr", metrics={"Set5": {"psnr": 37.61}})  # doctest: +SKIP
        >>> load("my-falsr")                                          # doctest: +SKIP
    """

    family: str

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        # huggingface_hub encodes any dataclass with asdict() before it consults the coders; a
        # genome is a dataclass whose JSON form is its canonical string, so coders come first.
        for kind, (encoder, _) in cls._hub_mixin_coders.items():
            if isinstance(arg, kind):
                return encoder(arg)
        return super()._encode_arg(arg)

    def architecture_tensors(self) -> dict[str, Any]:
        """Tensors the weights file holds beside the state dict to describe the architecture (none by default).

        Not part of the state dict: :meth:`save_pretrained` adds them, loading checks that they
        match this module and drops them.
        """
        return {}

    def model_config(self, metrics: Mapping[str, Mapping[str, float]] | None = None) -> ModelConfig:
        """What ``config.json`` records for this module (before the weights' sha256)."""
        family = get_family(self.family)
        recorded = dict(self._hub_mixin_config or {})
        options = {key: value for key, value in recorded.items() if key != "genome"}
        return ModelConfig(family=family.name, genome=str(self.genome), task=family.task, options=options,
                           scale=getattr(self, "scale", None), metrics=metrics or {})

    def save_pretrained(  # type: ignore[override]
        self,
        save_directory: str | os.PathLike[str],
        *,
        metrics: Mapping[str, Mapping[str, float]] | None = None,
        card: Callable[[ModelConfig], str] | None = None,
    ) -> Path:
        """Write this module as a model directory (``config.json``, ``model.safetensors``, ``README.md``).

        Args:
            save_directory: Created if needed; the three files are replaced, others left alone.
            metrics: ``{dataset: {metric: value}}`` measured with these weights, recorded in
                ``config.json`` and shown in the card.
            card: Renders the card from the config (default: the package's card code).

        Returns:
            The directory. Saving the same module twice gives the same bytes.
        """
        renderer = card or resolve(CARD_RENDERER)
        state = {**self.state_dict(), **self.architecture_tensors()}
        write_model_dir(save_directory, state, self.model_config(metrics), renderer)
        return Path(save_directory)

    def push_to_hub(  # type: ignore[override]
        self,
        repo_id: str,
        *,
        metrics: Mapping[str, Mapping[str, float]] | None = None,
        private: bool | None = None,
        branch: str | None = None,
        commit_message: str | None = None,
        token: str | None = None,
    ) -> PushResult:
        """Save this module as a model directory and upload it to ``repo_id`` in one commit.

        Returns:
            The repository and commit (load it pinned: ``load("hf-hub:" + repo_id, revision=result.commit)``).
        """
        with tempfile.TemporaryDirectory(prefix="falsr-push-") as tmp:
            self.save_pretrained(tmp, metrics=metrics)
            return push_model_dir(tmp, repo_id, private=private, branch=branch, commit_message=commit_message,
                                  token=token)

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls: type[T],
        pretrained_model_name_or_path: str | os.PathLike[str],
        *,
        revision: str | None = None,
        offline: bool | None = None,
        **model_kwargs: Any,
    ) -> T:
        """Build a module of this class from a model directory, ``hf-hub:owner/name`` or ``owner/name``.

        The Hub is asked once, without retries, before anything is downloaded (see
        :func:`~falsr_zoo.zoo.hub_files.hub_file`); the weights are read strictly, from
        safetensors only, and must carry the config's genome.
        """
        reference = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(reference) and not reference.startswith("hf-hub:"):
            reference = f"hf-hub:{reference}"
        directory = resolve_model_dir(reference, revision=revision, offline=offline)
        return super().from_pretrained(directory, local_files_only=True, **model_kwargs)

    @classmethod
    def _from_pretrained(cls: type[T], *, model_id: str, config: dict | None = None, **ignored: Any) -> T:
        spec, weights = read_model_dir(model_id)
        if spec.family != cls.family:
            raise ModelDirError(f"{model_id} holds a {spec.family} model, not a {cls.family} one")
        model = cls(spec.genome, **spec.options)
        declared = read_metadata(weights).get("genome")
        if declared is not None and declared != str(model.genome):
            raise WeightsMismatchError(f"{weights} holds weights for genome '{declared}', not '{model.genome}'")
        load_state_dict(model, weights, architecture=model.architecture_tensors())
        return model.eval()

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The card :meth:`save_pretrained` writes, for this module without metrics."""
        return ModelCard(resolve(CARD_RENDERER)(self.model_config()))
