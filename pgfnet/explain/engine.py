"""The explanation engine: one :class:`~pgfnet.explain.record.Explanation` per utterance.

One explanation runs two model calls:

1. one batched forward pass over the modality coalitions of the utterance: 8, or fewer
   when a modality has no data, with row 0 the unchanged utterance. It gives the
   prediction, the cross-attention and gate values of every fused layer (from row 0) and
   the coalition values behind the exact Shapley values (:mod:`pgfnet.explain.shapley`);
2. integrated gradients over text, acoustic and visual inputs together
   (:mod:`pgfnet.explain.attributions`).

Thread safety: one :class:`Explainer` and its model may serve several threads at once.
Every model call of the engine runs under ``Explainer.model_lock``, and integrated
gradients register no hooks (the text is attributed through ``inputs_embeds``), so no
call changes the state of the shared model. The lock costs no throughput on a CPU,
because torch already spreads one forward pass over all cores. It guarantees that a
thread's result equals the result of the same call made alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pgfnet.data.batch import Batch
from pgfnet.explain.attributions import attribution_shares, integrated_gradients
from pgfnet.explain.baselines import (
    BASELINE_DESCRIPTIONS,
    coalition_rows,
    modalities_without_data,
)
from pgfnet.explain.cache import checkpoint_id
from pgfnet.explain.overview import OverviewTable
from pgfnet.explain.record import Explanation
from pgfnet.explain.shapley import (
    DEFAULT_THRESHOLDS,
    MODALITIES,
    InteractionThresholds,
    coalition_name,
    coalitions,
    dominant_modality,
    interaction_label,
    make_null_players,
    required_coalitions,
    shapley_values,
)
from pgfnet.explain.whatif import WhatIfResult, compare_explanations
from pgfnet.explain.words import merge_word_pieces
from pgfnet.paths import validate_utterance_id

logger = logging.getLogger(__name__)

NONVERBAL = ("acoustic", "visual")

# Coalition rows per forward pass in predict_overview; large enough
# to keep the matrix products efficient, small enough to release the lock often.
OVERVIEW_ROWS_PER_PASS = 128

ProgressCallback = Callable[[int, int], None]


def model_state_id(model: torch.nn.Module) -> str:
    """Return a sha256 of a model's config and trainable weights (for in-memory models)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(model.config.to_dict(), sort_keys=True).encode("utf-8"))
    for name, tensor in sorted(model.trainable_state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _default_tokenizer(model: torch.nn.Module):
    from pgfnet.backbones import load_tokenizer
    from pgfnet.model.backbone import TINY_BACKBONE_PREFIX

    name = model.config.backbone
    # The tiny test backbone has the MiniLM vocabulary, so it uses the MiniLM tokenizer.
    if name.startswith(TINY_BACKBONE_PREFIX):
        name = "all-MiniLM-L6-v2"
    return load_tokenizer(name)


class Explainer:
    """Explain PGF-Net predictions on a MOSI dataset.

    Args:
        model: a PGF-Net; it is put in eval mode.
        data: a loaded dataset (``pgfnet.data.format.MosiData``).
        tokenizer: the backbone's tokenizer; None loads it from ``model.config.backbone``.
        n_steps: integrated-gradients steps per explanation.
        model_id: checksum that names the model in records and caches; None computes it
            from the model's config and trainable weights on first use.
        ig_method: Captum's integration method.
        thresholds: the interaction-label thresholds.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data,
        tokenizer=None,
        n_steps: int = 32,
        *,
        model_id: str | None = None,
        ig_method: str = "gausslegendre",
        thresholds: InteractionThresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        if n_steps < 1:
            raise ValueError(f"invalid n_steps {n_steps}: use a positive number of integration steps")
        model.eval()
        self.model = model
        self.data = data
        self.tokenizer = tokenizer if tokenizer is not None else _default_tokenizer(model)
        self.n_steps = int(n_steps)
        self.ig_method = ig_method
        self.thresholds = thresholds
        self.model_lock = threading.RLock()
        self._tokenizer_lock = threading.Lock()
        self._model_id = model_id

        self.pad_id = int(self.tokenizer.pad_token_id)
        self.keep_ids = (int(self.tokenizer.cls_token_id), int(self.tokenizer.sep_token_id))

    @classmethod
    def from_checkpoint(
        cls, checkpoint_dir: str | Path, dataset_path: str | Path | None = None, n_steps: int = 32
    ) -> "Explainer":
        """Load a checkpoint folder and a built dataset (default: the cache's mosi.pgfdata)."""
        from pgfnet.data.format import MosiData
        from pgfnet.model.pgfnet import PGFNet
        from pgfnet.paths import default_dataset_path

        model_id = checkpoint_id(checkpoint_dir)
        model = PGFNet.from_pretrained(checkpoint_dir)
        data = MosiData.load(dataset_path if dataset_path is not None else default_dataset_path())
        return cls(model, data, n_steps=n_steps, model_id=model_id)

    # -- identity ---------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """Checksum of the model (see :func:`checkpoint_id` and :func:`model_state_id`)."""
        if self._model_id is None:
            with self.model_lock:
                self._model_id = model_state_id(self.model)
        return self._model_id

    @property
    def dataset_sha256(self) -> str:
        """sha256 of the dataset file, or "" for a dataset without one."""
        return str(getattr(self.data, "sha256", "") or "")

    @property
    def fused_layers(self) -> list[int]:
        """The 0-based encoder layers that fuse nonverbal input."""
        return list(self.model.fused_layers)

    # -- inputs -----------------------------------------------------------------------

    def example(self, utterance_id: str):
        """Return the normalised example of ``utterance_id``.

        Raises ValueError for a malformed id and KeyError naming the id and the dataset
        when it is not in the dataset.
        """
        validate_utterance_id(utterance_id)
        return self.data.example(self.data.index_of(utterance_id))

    def collate(self, examples: Sequence) -> Batch:
        """Tokenise and pad examples into a Batch with the model's maximum text length."""
        from pgfnet.data.dataset import collate_examples

        with self._tokenizer_lock:
            return collate_examples(list(examples), self.tokenizer, self.model.config.max_text_length)

    def _forward(self, batch: Batch, force_gates=None, drop_modalities=()):
        with self.model_lock, torch.no_grad():
            return self.model.forward_batch(
                batch, force_gates=force_gates, drop_modalities=tuple(drop_modalities)
            )

    def _validate_what_if(self, force_gates, drop_modalities) -> tuple[dict[int, float], tuple[str, ...]]:
        if isinstance(drop_modalities, str):
            drop_modalities = (drop_modalities,)
        dropped = tuple(m for m in NONVERBAL if m in set(drop_modalities))
        unknown = sorted(set(drop_modalities) - set(NONVERBAL))
        if unknown:
            hint = " (to remove the text, pass text='' instead)" if "text" in unknown else ""
            raise ValueError(
                f"invalid drop_modalities {unknown}: choose from {list(NONVERBAL)}{hint}"
            )

        forced = {}
        for layer, value in dict(force_gates or {}).items():
            if int(layer) not in self.fused_layers:
                raise ValueError(
                    f"invalid force_gates layer {layer!r}: gates exist only in the fused "
                    f"encoder layers {self.fused_layers}"
                )
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    f"invalid forced gate value {value!r} for layer {layer}: use a value in [0, 1]"
                )
            forced[int(layer)] = float(value)
        return forced, dropped

    # -- one utterance ----------------------------------------------------------------

    def explain(self, utterance_id: str, *, n_steps: int | None = None) -> Explanation:
        """Explain the dataset utterance ``utterance_id`` as it is.

        Raises ValueError for a malformed id and KeyError when the id is not in the data.
        """
        return self.explain_example(self.example(utterance_id), n_steps=n_steps)

    def explain_example(
        self,
        example,
        *,
        force_gates: Mapping[int, float] | None = None,
        drop_modalities: Sequence[str] = (),
        settings: Mapping | None = None,
        n_steps: int | None = None,
    ) -> Explanation:
        """Explain one example, possibly edited, under optional what-if settings.

        Args:
            example: a ``pgfnet.data.format.Example`` (normalised features).
            force_gates: {encoder layer index: gate value in [0, 1]} for fused layers.
            drop_modalities: "acoustic" and/or "visual", masked in the model's keys.
            settings: extra what-if settings to store in the record (e.g. edited text).
            n_steps: integrated-gradients steps; None uses the explainer's ``n_steps``.

        Returns:
            the explanation. Its arrays cover every word piece the model saw, including
            [CLS] and [SEP]; attention rows sum to 1, Shapley values sum to
            f(all) - f(none), and a modality without data gets exactly 0 attribution and
            0 Shapley value.
        """
        forced, dropped = self._validate_what_if(force_gates, drop_modalities)
        steps = self.n_steps if n_steps is None else int(n_steps)
        batch = self.collate([example])

        # Modalities that cannot change the prediction are Shapley null players and
        # stay out of the integration path.
        no_data = modalities_without_data(batch, 0, self.keep_ids)
        disabled = self._unused_modalities()
        null_players = no_data | set(dropped) | disabled

        # Only coalitions with every null player present are run; row 0 is the real input.
        needed = required_coalitions(null_players)
        rows = coalition_rows(batch, self.pad_id, self.keep_ids, [(0, c) for c in needed])
        output = self._forward(rows, forced, dropped)
        predictions = output.prediction.double().tolist()
        values = make_null_players(dict(zip(needed, predictions)), null_players)
        shapley = shapley_values(values)

        with self.model_lock:
            attributions = integrated_gradients(
                self.model,
                batch,
                pad_id=self.pad_id,
                keep_ids=self.keep_ids,
                n_steps=steps,
                method=self.ig_method,
                skip_modalities=sorted(null_players),
                force_gates=forced or None,
                drop_modalities=dropped,
            )
        totals = attributions.totals()

        tokens = self.tokenizer.convert_ids_to_tokens(batch.input_ids[0].tolist())
        # [UNK] stays a word: only the tokens the tokenizer adds around the text are special.
        special = (self.tokenizer.cls_token, self.tokenizer.sep_token, self.tokenizer.pad_token)
        words, token_word = merge_word_pieces(tokens, special)
        real = batch.attention_mask[0].bool().numpy()
        n_tokens, n_keys = len(tokens), len(output.key_modality)
        if output.attentions:
            attention = torch.stack([a[0] for a in output.attentions]).numpy().astype(np.float32)
            gates = torch.stack([g[0] for g in output.gates]).numpy().astype(np.float32)
        else:
            # A text-only model has no fused layer, so no attention and no gate.
            attention = np.zeros((0, self.model.config.fusion_heads, n_tokens, n_keys), np.float32)
            gates = np.zeros((0, n_tokens, self.model.hidden_size), np.float32)
        visual_times = batch.visual_times[0].numpy().astype(np.float32)

        record_settings = dict(settings or {})
        if forced:
            record_settings["force_gates"] = {str(k): v for k, v in sorted(forced.items())}
        if dropped:
            record_settings["drop_modalities"] = list(dropped)

        return Explanation(
            id=example.id,
            split=example.split,
            text=example.text,
            label=None if example.label is None else float(example.label),
            prediction=float(predictions[0]),
            tokens=list(tokens),
            words=words,
            token_word=token_word,
            text_truncated=self._truncated(batch),
            fused_layers=self.fused_layers,
            key_labels=_key_labels(output.key_modality, visual_times),
            key_modality=list(output.key_modality),
            attention=attention,
            gate_tokens=gates.mean(axis=2),
            gate_channels=gates[:, real, :].mean(axis=1),
            attr_text=attributions.text,
            attr_acoustic=attributions.acoustic,
            attr_visual=attributions.visual,
            visual_times=visual_times,
            acoustic_feature_names=list(self.data.feature_names["acoustic"]),
            visual_feature_names=list(self.data.feature_names["visual"]),
            attribution_totals=totals,
            attribution_shares=attribution_shares(totals),
            convergence_delta=attributions.convergence_delta,
            n_steps=steps,
            baselines=dict(BASELINE_DESCRIPTIONS),
            shapley=shapley,
            coalition_values={coalition_name(c): values[c] for c in coalitions()},
            interaction=interaction_label(shapley, self.thresholds),
            notes=self._notes(example, batch, no_data, dropped, disabled, forced),
            settings=record_settings,
            model_id=self.model_id,
            dominant_modality=dominant_modality(shapley),
            interaction_thresholds={
                "min_abs": self.thresholds.min_abs,
                "min_share": self.thresholds.min_share,
            },
            ig_method=attributions.method,
            dataset_sha256=self.dataset_sha256,
        )

    def _unused_modalities(self) -> set[str]:
        if not self.fused_layers:
            return set(NONVERBAL)
        return set(NONVERBAL) - set(self.model.config.modalities)

    def _truncated(self, batch: Batch) -> bool:
        if batch.text_truncated is None:
            return False
        return bool(batch.text_truncated[0])

    def _notes(self, example, batch, no_data, dropped, disabled, forced) -> list[str]:
        notes = []
        if self._truncated(batch):
            with self._tokenizer_lock:
                total = len(self.tokenizer.tokenize(example.text)) + 2
            kept_pieces = int(batch.attention_mask[0].sum())
            notes.append(
                f"transcript truncated: the model takes at most "
                f"{self.model.config.max_text_length} word pieces ([CLS] and [SEP] "
                f"included), so {total - kept_pieces} of the {total} were left out and the "
                "explanation covers only the first part"
            )
        if "text" in no_data:
            notes.append(
                "empty transcript: the text is only [CLS] and [SEP], which equals the text "
                "baseline, so the text attribution and Shapley value are 0"
            )
        if "acoustic" in no_data:
            notes.append(
                "acoustic missing: the utterance has no acoustic features, so its "
                "attribution and Shapley value are 0"
            )
        if "visual" in no_data:
            notes.append(
                "visual missing: the visual modality has no frames, so its attribution "
                "and Shapley value are 0"
            )
        for modality in dropped:
            notes.append(
                f"{modality} dropped: its keys are masked in every fused layer, so its "
                "attribution and Shapley value are 0"
            )
        for modality in sorted(disabled - set(dropped)):
            reason = (
                "the model has no fused layer (text only)"
                if not self.fused_layers
                else f"the model was configured without the {modality} modality"
            )
            notes.append(f"{modality} unused: {reason}, so its attribution and Shapley value are 0")
        if forced:
            layers = ", ".join(f"layer {k} = {v:.2f}" for k, v in sorted(forced.items()))
            notes.append(f"gates forced: {layers}; the gate values shown are the forced ones")
        return notes

    # -- what-if ----------------------------------------------------------------------

    def what_if(
        self,
        utterance_id: str,
        *,
        text: str | None = None,
        drop_modalities: Sequence[str] = (),
        force_gates: Mapping[int, float] | None = None,
    ) -> WhatIfResult:
        """Explain an utterance as it is and under edits, and compare the two.

        Args:
            utterance_id: a dataset utterance.
            text: a new transcript (the nonverbal features are kept), or None.
            drop_modalities: nonverbal modalities to mask in the model's keys.
            force_gates: {encoder layer index: gate value in [0, 1]}.

        Returns:
            the original and the edited explanations and their difference. With no
            edit at all, both explanations are equal and every difference is 0.
        """
        self._validate_what_if(force_gates, drop_modalities)
        original = self.explain(utterance_id)
        example = self.example(utterance_id)
        settings = {}
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"invalid text {text!r}: give the edited transcript as a string")
            example = replace(example, text=text, split="custom", label=None)
            settings["text"] = text
        edited = self.explain_example(
            example, force_gates=force_gates, drop_modalities=drop_modalities, settings=settings
        )
        return WhatIfResult(original=original, edited=edited, diff=compare_explanations(original, edited))

    # -- whole split ------------------------------------------------------------------

    def predict_overview(
        self,
        split: str,
        progress: ProgressCallback | None = None,
        rows_per_pass: int = OVERVIEW_ROWS_PER_PASS,
    ) -> OverviewTable:
        """Compute prediction, mean gates and modality Shapley values for a whole split.

        No integrated gradients run here: each utterance costs the rows of its coalitions
        in a batched forward pass (8, or 4 without visual frames, see
        :func:`required_coalitions`). Utterances are grouped by frame presence and
        transcript length so that padding stays small.

        Args:
            split: "train", "valid" or "test".
            progress: called as ``progress(done, total)`` after every forward pass.
            rows_per_pass: maximum batch rows per forward pass.

        Returns:
            the table, in the dataset's order of the split.
        """
        indices = self.data.split_indices(split)
        examples = [self.data.example(i) for i in indices]
        with self._tokenizer_lock:
            lengths = [len(self.tokenizer.tokenize(e.text)) for e in examples]
        disabled = self._unused_modalities()

        # Utterances without frames go together (no frame padding), then by length.
        order = sorted(range(len(examples)), key=lambda j: (len(examples[j].visual) > 0, lengths[j], j))
        chunks = _chunk_by_rows(order, [_estimated_rows(e, n, disabled) for e, n in zip(examples, lengths)],
                                rows_per_pass)

        fused = self.fused_layers
        predictions = np.zeros(len(examples))
        gate_means = np.zeros((len(examples), len(fused)))
        shapley = np.zeros((len(examples), len(MODALITIES)))
        interactions = [""] * len(examples)

        done = 0
        if progress is not None:
            progress(done, len(examples))
        for chunk in chunks:
            batch = self.collate([examples[j] for j in chunk])
            null_players = [modalities_without_data(batch, b, self.keep_ids) | disabled for b in range(len(chunk))]
            needed = [required_coalitions(n) for n in null_players]
            pairs = [(b, c) for b in range(len(chunk)) for c in needed[b]]
            output = self._forward(coalition_rows(batch, self.pad_id, self.keep_ids, pairs))
            row_predictions = output.prediction.double().tolist()

            first_row = 0
            for b, j in enumerate(chunk):
                raw = dict(zip(needed[b], row_predictions[first_row:first_row + len(needed[b])]))
                phi = shapley_values(make_null_players(raw, null_players[b]))
                real = batch.attention_mask[b].bool()
                predictions[j] = raw[MODALITIES]
                gate_means[j] = [float(g[first_row][real].double().mean()) for g in output.gates]
                shapley[j] = [phi[m] for m in MODALITIES]
                interactions[j] = interaction_label(phi, self.thresholds)
                first_row += len(needed[b])

            done += len(chunk)
            if progress is not None:
                progress(done, len(examples))

        utterances = [self.data.utterances[i] for i in indices]
        return OverviewTable(
            split=split,
            model_id=self.model_id,
            dataset_sha256=self.dataset_sha256,
            fused_layers=fused,
            ids=[u.id for u in utterances],
            splits=[u.split for u in utterances],
            labels=np.array([u.label for u in utterances], dtype=np.float64),
            predictions=predictions,
            gate_means=gate_means,
            shapley=shapley,
            interactions=interactions,
            has_visual=np.array([u.n_frames > 0 for u in utterances], dtype=bool),
            has_video=np.array([_has_video(u) for u in utterances], dtype=bool),
            thresholds={"min_abs": self.thresholds.min_abs, "min_share": self.thresholds.min_share},
        )


def _estimated_rows(example, n_pieces: int, disabled: set[str]) -> int:
    """Return the coalition rows an example needs, judged before tokenisation."""
    null = set(disabled)
    if n_pieces == 0:
        null.add("text")
    if len(example.acoustic) == 0:
        null.add("acoustic")
    if len(example.visual) == 0:
        null.add("visual")
    return len(required_coalitions(null))


def _chunk_by_rows(order: Sequence[int], rows: Sequence[int], rows_per_pass: int) -> list[list[int]]:
    """Split ``order`` into consecutive chunks of at most ``rows_per_pass`` rows (at least one item each)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    current_rows = 0
    for j in order:
        if current and current_rows + rows[j] > rows_per_pass:
            chunks.append(current)
            current, current_rows = [], 0
        current.append(j)
        current_rows += rows[j]
    if current:
        chunks.append(current)
    return chunks


def _has_video(utterance) -> bool:
    media = getattr(utterance, "media", None)
    return media is not None and getattr(media, "kind", "") in ("full_video", "clip")


def _key_labels(key_modality: Sequence[str], visual_times: np.ndarray) -> list[str]:
    """Return a label per key: "null", "acoustic" (or "acoustic 2" for sequences), "visual 1.20 s"."""
    n_acoustic = sum(1 for m in key_modality if m == "acoustic")
    labels = []
    acoustic_seen = visual_seen = 0
    for modality in key_modality:
        if modality == "acoustic":
            acoustic_seen += 1
            labels.append("acoustic" if n_acoustic == 1 else f"acoustic {acoustic_seen}")
        elif modality == "visual":
            labels.append(f"visual {float(visual_times[visual_seen]):.2f} s")
            visual_seen += 1
        else:
            labels.append(modality)
    return labels
