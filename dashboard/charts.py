"""Plotly figure builders for the dashboard: plain functions of records and tables.

Every function takes an :class:`~pgfnet.explain.record.Explanation`, a list of them, or
a pandas DataFrame with the columns of ``OverviewTable.to_frame()``, and returns a
``plotly.graph_objects.Figure``. None of them imports Streamlit, so tests check the
figure data directly.

Strings from data or users (words, word pieces, ids, feature names) reach plotly only
through :func:`plain`, which escapes ``<``, ``>`` and ``&``. Plotly renders a subset of
HTML tags inside text and labels, and decodes these entities back to the literal
characters, so an escaped string is always drawn as the text it is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pgfnet.explain.record import Explanation

MODALITIES = ("text", "acoustic", "visual")
MODALITY_COLORS = {"text": "#4C72B0", "acoustic": "#DD8452", "visual": "#55A868"}
SENTIMENT_COLORS = {"negative": "#C44E52", "neutral": "#8C8C8C", "positive": "#4C72B0"}
LABEL_RANGE = (-3.0, 3.0)
# Diverging scale for signed attributions; the midpoint is pinned to 0 by each caller.
DIVERGING = "RdBu"


def plain(value: object) -> str:
    """Return ``value`` as a string that plotly draws literally, never as markup."""
    return html.escape(str(value), quote=False)


def sentiment_class(label: float) -> str:
    """Return "negative", "neutral" or "positive" for a score in [-3, 3]."""
    if label < 0:
        return "negative"
    if label > 0:
        return "positive"
    return "neutral"


def gate_columns(frame: pd.DataFrame) -> list[str]:
    """Return the ``gate_L<k>`` columns of an overview table, ordered by layer."""
    columns = [c for c in frame.columns if c.startswith("gate_L")]
    return sorted(columns, key=lambda c: int(c.removeprefix("gate_L")))


def _symmetric_range(values: np.ndarray) -> float:
    peak = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return peak if peak > 0 else 1.0


def _layout(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10), template="plotly_white")
    if height:
        fig.update_layout(height=height)
    return fig


# Overview -------------------------------------------------------------------------------


def prediction_scatter(frame: pd.DataFrame) -> go.Figure:
    """Plot prediction against true label, one point per utterance.

    Each point carries its utterance id in ``customdata[0]``, which the Overview page
    reads from a selection event to open that utterance. The dashed diagonal marks a
    perfect prediction.
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=frame["label"].to_numpy(dtype=float),
        y=frame["prediction"].to_numpy(dtype=float),
        mode="markers",
        marker=dict(size=7, color=frame["error"].abs().to_numpy(dtype=float),
                    colorscale="Viridis", colorbar=dict(title="|error|"), opacity=0.8),
        customdata=np.stack([frame["id"].map(plain).to_numpy(dtype=object)], axis=-1),
        hovertemplate="%{customdata[0]}<br>true %{x:.2f}<br>predicted %{y:.2f}<extra></extra>",
        name="utterances",
    ))
    fig.add_trace(go.Scatter(x=list(LABEL_RANGE), y=list(LABEL_RANGE), mode="lines",
                             line=dict(dash="dash", color="gray"), name="perfect",
                             hoverinfo="skip"))
    fig.update_xaxes(title="true sentiment", range=[-3.2, 3.2])
    fig.update_yaxes(title="predicted sentiment", range=[-3.2, 3.2])
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    return _layout(fig, "Predicted against true sentiment")


def error_histogram(frame: pd.DataFrame, nbins: int = 30) -> go.Figure:
    """Plot the histogram of signed errors (prediction - label)."""
    fig = go.Figure(go.Histogram(x=frame["error"].to_numpy(dtype=float), nbinsx=nbins,
                                 marker_color="#4C72B0", name="error"))
    fig.add_vline(x=0, line_dash="dash", line_color="gray")
    fig.update_xaxes(title="prediction - true label")
    fig.update_yaxes(title="utterances")
    return _layout(fig, "Error distribution")


def gate_by_sentiment(frame: pd.DataFrame) -> go.Figure:
    """Plot the mean gate value per fused layer, one line per true-sentiment class.

    A gate of 1 keeps the text state; lower values mix in more of the nonverbal context.
    """
    columns = gate_columns(frame)
    classes = frame["label"].map(sentiment_class)
    fig = go.Figure()
    for name in ("negative", "neutral", "positive"):
        rows = frame[classes == name]
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(
            x=[c.removeprefix("gate_") for c in columns],
            y=rows[columns].mean().to_numpy(dtype=float),
            error_y=dict(type="data", array=rows[columns].std(ddof=0).to_numpy(dtype=float)),
            mode="lines+markers", name=f"{name} (n={len(rows)})",
            line=dict(color=SENTIMENT_COLORS[name]),
        ))
    fig.update_xaxes(title="fused layer")
    fig.update_yaxes(title="mean gate (1 = text only)")
    return _layout(fig, "Mean gate value per fused layer by true sentiment")


def shapley_share_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Return each modality's mean share of |Shapley value| and its mean signed value.

    The share of modality m in one utterance is |phi_m| / sum over modalities of
    |phi|; utterances whose Shapley values are all 0 are left out of the mean.
    """
    values = frame[[f"shapley_{m}" for m in MODALITIES]].to_numpy(dtype=float)
    totals = np.abs(values).sum(axis=1)
    keep = totals > 0
    shares = np.abs(values[keep]) / totals[keep, None]
    return pd.DataFrame({
        "modality": list(MODALITIES),
        "mean_share": shares.mean(axis=0) if keep.any() else np.zeros(len(MODALITIES)),
        "mean_shapley": values.mean(axis=0) if len(values) else np.zeros(len(MODALITIES)),
    })


def shapley_shares(frame: pd.DataFrame) -> go.Figure:
    """Plot how much each modality is relied on across the table (Shapley shares)."""
    table = shapley_share_table(frame)
    fig = go.Figure(go.Bar(
        x=table["modality"], y=table["mean_share"],
        marker_color=[MODALITY_COLORS[m] for m in table["modality"]],
        customdata=table["mean_shapley"],
        hovertemplate="%{x}: share %{y:.1%}<br>mean Shapley %{customdata:.3f}<extra></extra>",
    ))
    fig.update_yaxes(title="mean share of |Shapley value|", tickformat=".0%", range=[0, 1])
    return _layout(fig, "Reliance on each modality (mean Shapley share)")


# Explorer -------------------------------------------------------------------------------


def word_attributions(record: Explanation) -> np.ndarray:
    """Return the (len(words),) attribution per word: the sum over its word pieces."""
    totals = np.zeros(len(record.words), dtype=float)
    for piece, word in enumerate(record.token_word):
        if word >= 0:
            totals[word] += float(record.attr_text[piece])
    return totals


def transcript_figure(record: Explanation, words_per_row: int = 10) -> go.Figure:
    """Draw the transcript as word cells coloured by attribution (red lowers, blue raises).

    Words are laid out in rows of ``words_per_row`` as a heatmap whose cell text is the
    escaped word, so the colour scale is centred on 0 and the text is never markup.
    """
    values = word_attributions(record)
    n_words = max(len(record.words), 1)
    n_rows = int(np.ceil(n_words / words_per_row))
    z = np.full((n_rows, words_per_row), np.nan)
    text = np.full((n_rows, words_per_row), "", dtype=object)
    for i, (word, value) in enumerate(zip(record.words, values)):
        z[i // words_per_row, i % words_per_row] = value
        text[i // words_per_row, i % words_per_row] = plain(word)
    peak = _symmetric_range(values)
    fig = go.Figure(go.Heatmap(
        z=z, text=text, texttemplate="%{text}", textfont=dict(size=14),
        colorscale=DIVERGING, zmid=0, zmin=-peak, zmax=peak, xgap=3, ygap=3,
        colorbar=dict(title="attribution"),
        hovertemplate="%{text}: %{z:.3f}<extra></extra>",
    ))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return _layout(fig, "Transcript coloured by integrated-gradients attribution",
                   height=90 + 50 * n_rows)


def prediction_bar(record: Explanation, edited: Explanation | None = None) -> go.Figure:
    """Place the prediction (and the true label, and an edited prediction) on [-3, 3]."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[record.prediction], y=["score"], mode="markers",
                             marker=dict(size=18, color="#4C72B0", symbol="diamond"),
                             name=f"prediction {record.prediction:+.2f}"))
    if record.label is not None:
        fig.add_trace(go.Scatter(x=[record.label], y=["score"], mode="markers",
                                 marker=dict(size=18, color="#C44E52", symbol="line-ns-open",
                                             line=dict(width=4)),
                                 name=f"true {record.label:+.2f}"))
    if edited is not None:
        fig.add_trace(go.Scatter(x=[edited.prediction], y=["score"], mode="markers",
                                 marker=dict(size=18, color="#55A868", symbol="diamond"),
                                 name=f"what-if {edited.prediction:+.2f}"))
    fig.update_xaxes(range=[-3.1, 3.1], dtick=1, title="sentiment (-3 negative, +3 positive)")
    fig.update_yaxes(visible=False)
    return _layout(fig, "Prediction against truth", height=200)


def attention_heatmap(record: Explanation, layer: int, head: int | None = None) -> go.Figure:
    """Plot one fused layer's cross-attention: word pieces (rows) over keys (columns).

    Args:
        layer: index into ``record.fused_layers`` (0 .. L-1), not the encoder layer.
        head: a head index, or None for the mean over heads.
    """
    weights = record.attention[layer]
    z = weights.mean(axis=0) if head is None else weights[head]
    head_label = "mean over heads" if head is None else f"head {head}"
    fig = go.Figure(go.Heatmap(
        z=z, x=[plain(k) for k in record.key_labels], y=[plain(t) for t in record.tokens],
        colorscale="Blues", zmin=0, colorbar=dict(title="weight"),
        hovertemplate="%{y} -> %{x}: %{z:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", title="word piece", type="category")
    fig.update_xaxes(title="key", type="category")
    return _layout(fig, f"Cross-attention, encoder layer {record.fused_layers[layer]} "
                        f"({head_label})", height=max(300, 22 * len(record.tokens) + 120))


def gate_colour_range(*gate_maps: np.ndarray) -> tuple[float, float]:
    """Return the (min, max) of the gate values, widened to at least 0.001.

    A trained gate can stay within a few thousandths of its start (0.993 for the
    default config), which a fixed 0-1 colour scale would show as one flat colour.
    """
    values = np.concatenate([np.asarray(gates, dtype=float).ravel() for gates in gate_maps])
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-3:
        middle = (low + high) / 2
        low, high = middle - 5e-4, middle + 5e-4
    return low, high


def gate_heatmap(record: Explanation) -> go.Figure:
    """Plot the gate value per fused layer (rows) and word piece (columns).

    The colours span the record's own gate range, which the title states.
    """
    low, high = gate_colour_range(record.gate_tokens)
    fig = go.Figure(go.Heatmap(
        z=record.gate_tokens, x=[plain(t) for t in record.tokens],
        y=[f"L{layer}" for layer in record.fused_layers],
        colorscale="Viridis", zmin=low, zmax=high, colorbar=dict(title="gate"),
        hovertemplate="%{y}, %{x}: %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(type="category", title="word piece")
    fig.update_yaxes(type="category", title="fused layer")
    return _layout(fig, f"Gate per layer and token (1 = text only; colours span "
                        f"{low:.4f} to {high:.4f})", height=260)


def gate_profile_values(record: Explanation) -> np.ndarray:
    """Return the (L,) mean token gate per fused layer."""
    return np.asarray(record.gate_tokens, dtype=float).mean(axis=1)


def gate_profiles(records: Sequence[Explanation], names: Sequence[str] | None = None) -> go.Figure:
    """Overlay the per-layer mean gate of one or more records."""
    fig = go.Figure()
    for i, record in enumerate(records):
        name = names[i] if names else record.id
        fig.add_trace(go.Scatter(
            x=[f"L{layer}" for layer in record.fused_layers], y=gate_profile_values(record),
            mode="lines+markers", name=plain(name),
        ))
    # Plotly's autorange and automatic tick labels follow the data, so gates that differ
    # only in the fifth decimal still get distinct ticks.
    fig.update_yaxes(title="mean gate over tokens")
    fig.update_xaxes(title="fused layer")
    return _layout(fig, "Gate profile per fused layer (1 = text only)")


def token_attribution_bars(record: Explanation) -> go.Figure:
    """Plot the integrated-gradients attribution of each word piece."""
    values = np.asarray(record.attr_text, dtype=float)
    labels = [f"{i}: {plain(t)}" for i, t in enumerate(record.tokens)]
    fig = go.Figure(go.Bar(x=labels, y=values,
                           marker_color=np.where(values >= 0, "#4C72B0", "#C44E52")))
    fig.update_xaxes(type="category", title="word piece")
    fig.update_yaxes(title="attribution")
    return _layout(fig, "Text attribution per word piece")


def acoustic_bars(record: Explanation, top_k: int = 20) -> go.Figure:
    """Plot the ``top_k`` acoustic features with the largest |attribution|, by name."""
    values = np.asarray(record.attr_acoustic, dtype=float)
    order = np.argsort(-np.abs(values))[:top_k][::-1]
    fig = go.Figure(go.Bar(
        x=values[order], y=[plain(record.acoustic_feature_names[i]) for i in order],
        orientation="h", marker_color=np.where(values[order] >= 0, "#4C72B0", "#C44E52"),
    ))
    fig.update_yaxes(type="category")
    fig.update_xaxes(title="attribution")
    return _layout(fig, f"Acoustic attribution (top {len(order)} of {len(values)} features)",
                   height=max(300, 22 * len(order) + 100))


def visual_heatmap(record: Explanation) -> go.Figure:
    """Plot the visual attribution: frames (rows, by time) x OpenFace features."""
    values = np.asarray(record.attr_visual, dtype=float)
    peak = _symmetric_range(values)
    fig = go.Figure(go.Heatmap(
        z=values, x=[plain(n) for n in record.visual_feature_names],
        y=[f"{t:.2f} s" for t in np.asarray(record.visual_times, dtype=float)],
        colorscale=DIVERGING, zmid=0, zmin=-peak, zmax=peak, colorbar=dict(title="attribution"),
    ))
    fig.update_xaxes(type="category", title="feature")
    fig.update_yaxes(type="category", title="frame time", autorange="reversed")
    return _layout(fig, "Visual attribution per frame and feature",
                   height=max(260, 14 * values.shape[0] + 160))


def shapley_waterfall(record: Explanation) -> go.Figure:
    """Plot the modality Shapley values as a waterfall from f(none) to f(all).

    The bars add up exactly because Shapley values sum to f(all) - f(none).
    """
    base = float(record.coalition_values.get("none", 0.0))
    steps = [float(record.shapley.get(m, 0.0)) for m in MODALITIES]
    fig = go.Figure(go.Waterfall(
        x=["no modality", *MODALITIES, "all modalities"],
        measure=["absolute", "relative", "relative", "relative", "total"],
        y=[base, *steps, 0.0],
        text=[f"{base:+.3f}", *[f"{s:+.3f}" for s in steps], f"{base + sum(steps):+.3f}"],
        textposition="outside",
        increasing=dict(marker=dict(color="#4C72B0")),
        decreasing=dict(marker=dict(color="#C44E52")),
        totals=dict(marker=dict(color="#8C8C8C")),
    ))
    fig.update_yaxes(title="prediction")
    return _layout(fig, f"Modality Shapley values (interaction: {plain(record.interaction)})")


def action_unit_curves(frames: np.ndarray, times: np.ndarray, names: Sequence[str],
                       columns: Sequence[str] | None = None) -> go.Figure:
    """Plot visual feature curves over time in seconds from the utterance start.

    Args:
        frames: (F, D_v) raw (unnormalised) feature values.
        times: (F,) seconds from the utterance start, the same axis as the cut clip.
        columns: feature names to draw; defaults to the action-unit intensities.
    """
    frames = np.asarray(frames, dtype=float)
    selected = list(columns) if columns else [n for n in names if n.startswith("AU")]
    fig = go.Figure()
    for name in selected:
        j = list(names).index(name)
        fig.add_trace(go.Scatter(x=np.asarray(times, dtype=float), y=frames[:, j],
                                 mode="lines", name=plain(name)))
    fig.update_xaxes(title="seconds from the utterance start")
    fig.update_yaxes(title="intensity")
    return _layout(fig, "Visual action units over the clip")


# Compare --------------------------------------------------------------------------------


def attribution_shares_bars(records: Sequence[Explanation]) -> go.Figure:
    """Plot each record's attribution shares as stacked bars (one bar per record)."""
    fig = go.Figure()
    ids = [plain(r.id) for r in records]
    for modality in MODALITIES:
        fig.add_trace(go.Bar(x=ids, y=[float(r.attribution_shares.get(modality, 0.0))
                                       for r in records],
                             name=modality, marker_color=MODALITY_COLORS[modality]))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="share of |attribution|", tickformat=".0%", range=[0, 1])
    fig.update_xaxes(type="category")
    return _layout(fig, "Attribution shares")


def predictions_compare(records: Sequence[Explanation]) -> go.Figure:
    """Plot prediction and true label of each record side by side."""
    ids = [plain(r.id) for r in records]
    fig = go.Figure([
        go.Bar(x=ids, y=[r.prediction for r in records], name="prediction",
               marker_color="#4C72B0"),
        go.Bar(x=ids, y=[np.nan if r.label is None else r.label for r in records],
               name="true", marker_color="#C44E52"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[-3.1, 3.1], title="sentiment")
    fig.update_xaxes(type="category")
    return _layout(fig, "Predictions against truth")


# What-if --------------------------------------------------------------------------------


def gate_heatmap_pair(original: Explanation, edited: Explanation) -> go.Figure:
    """Plot the original and the edited gate maps one above the other, on one colour
    scale that spans the gate range of both."""
    from plotly.subplots import make_subplots

    low, high = gate_colour_range(original.gate_tokens, edited.gate_tokens)
    fig = make_subplots(rows=2, cols=1, subplot_titles=("original", "what-if"),
                        vertical_spacing=0.25)
    for row, record in ((1, original), (2, edited)):
        fig.add_trace(go.Heatmap(
            z=record.gate_tokens, x=[f"{i}: {plain(t)}" for i, t in enumerate(record.tokens)],
            y=[f"L{layer}" for layer in record.fused_layers], colorscale="Viridis",
            zmin=low, zmax=high, showscale=row == 1, colorbar=dict(title="gate"),
            hovertemplate="%{y}, %{x}: %{z:.4f}<extra></extra>",
        ), row=row, col=1)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return _layout(fig, f"Gate maps: original and what-if (colours span {low:.4f} to {high:.4f})",
                   height=420)


def shapley_compare(original: Explanation, edited: Explanation) -> go.Figure:
    """Plot the modality Shapley values of the original and the edited input."""
    fig = go.Figure([
        go.Bar(x=list(MODALITIES), y=[original.shapley.get(m, 0.0) for m in MODALITIES],
               name="original", marker_color="#8C8C8C"),
        go.Bar(x=list(MODALITIES), y=[edited.shapley.get(m, 0.0) for m in MODALITIES],
               name="what-if", marker_color="#55A868"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="Shapley value")
    return _layout(fig, "Modality Shapley values: original and what-if")


# Model card -----------------------------------------------------------------------------


def parameter_breakdown(breakdown: dict[str, int]) -> go.Figure:
    """Plot trainable parameters per component (a name -> count mapping)."""
    names = list(breakdown)
    counts = [int(breakdown[n]) for n in names]
    fig = go.Figure(go.Bar(x=counts, y=[plain(n) for n in names], orientation="h",
                           text=[f"{c:,}" for c in counts], textposition="auto",
                           marker_color="#4C72B0"))
    fig.update_xaxes(title="trainable parameters")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, "Trainable parameters per component",
                   height=max(240, 30 * len(names) + 120))


def curve_columns(history: pd.DataFrame) -> list[str]:
    """Return the plottable per-epoch columns: numeric, not boolean, not ``epoch``."""
    return [c for c in history.columns
            if c != "epoch" and pd.api.types.is_numeric_dtype(history[c])
            and not pd.api.types.is_bool_dtype(history[c])]


def training_curves(history: pd.DataFrame, columns: Sequence[str] | None = None) -> go.Figure:
    """Plot per-epoch ``columns`` (default: every plottable one) against ``epoch``."""
    fig = go.Figure()
    x = history["epoch"] if "epoch" in history else pd.Series(range(1, len(history) + 1))
    for column in columns if columns is not None else curve_columns(history):
        fig.add_trace(go.Scatter(x=x, y=history[column], mode="lines+markers",
                                 name=plain(column)))
    fig.update_xaxes(title="epoch")
    return _layout(fig, "Training curves")


def architecture_figure(fused_layers: Sequence[int], n_layers: int, backbone: str,
                        modalities: Sequence[str], pooling: str = "mean") -> go.Figure:
    """Draw PGF-Net as boxes: encoder layers bottom to top, fusion after the fused ones.

    Each fused layer shows its three parts: cross-attention of the text over the
    nonverbal keys, the gate that mixes text state and fused context, and the adapter.
    """
    fig = go.Figure()
    shapes, notes = [], []

    def box(x0, y0, x1, y1, label, color):
        shapes.append(dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color="#333"),
                           fillcolor=color, opacity=0.9, layer="below"))
        notes.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=label, showarrow=False,
                          font=dict(size=12)))

    box(0, 0, 4, 0.8, "transcript -> word pieces", "#DDE6F4")
    y = 1.0
    for layer in range(n_layers):
        box(0, y, 4, y + 0.8, f"encoder layer {layer} ({plain(backbone)}, LoRA)", "#C9D7EE")
        if layer in fused_layers:
            box(4.4, y, 6.1, y + 0.8, "cross-attention", "#F4D9C6")
            box(6.3, y, 7.4, y + 0.8, "gate", "#FBE7A1")
            box(7.6, y, 8.8, y + 0.8, "adapter", "#D5ECD9")
        y += 1.0
    box(0, y, 4, y + 0.8, f"{plain(pooling)} pooling -> regression head -> score in [-3, 3]",
        "#E8E8E8")
    box(4.4, 0, 8.8, 0.8, " + ".join(plain(m) for m in modalities) + " keys (+ null key)",
        "#F4D9C6")
    fig.update_layout(shapes=shapes, annotations=notes, showlegend=False)
    fig.update_xaxes(visible=False, range=[-0.2, 9.0])
    fig.update_yaxes(visible=False, range=[-0.2, y + 1.0])
    return _layout(fig, "PGF-Net architecture", height=80 + 55 * (n_layers + 2))
