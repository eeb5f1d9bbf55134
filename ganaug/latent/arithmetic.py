"""Latent arithmetic with provenance: add, subtract, scale and average codes.

Fernández et al. 2021 (section 3.2.2): z = z1 + z2, z1 - z2, z1 + z2 - z3 give new images that
combine or remove visual patterns, and operating on the *averages* of several codes per pattern
gives cleaner edits (Fig. 10). A ``LatentCode`` carries, next to the numbers, the expression that
made it (``"(mean(lumen_1, lumen_2) - mean(plain_1, plain_2))"``) and the names of its inputs, so a
figure can be labelled and the edit repeated.
"""

import dataclasses
import numbers

import numpy as np


def _join_inputs(*groups):
    seen = []
    for group in groups:
        for name in group:
            if name not in seen:
                seen.append(name)
    return tuple(seen)


def _format_scalar(value):
    return f"{float(value):g}"


@dataclasses.dataclass(frozen=True, eq=False)
class LatentCode:
    """A latent code (or a set of codes) and how it was made.

    Args:
        code: float32 ``(latent_dim,)`` for one code, or ``(N, latent_dim)`` for a set; arithmetic
            between a set and a single code broadcasts the single code to every row.
        label: the class index of a conditional generator the code goes with, or None. Results of
            operations keep a label only if every operand had the same one.
        provenance: the expression that made the code; a leaf's provenance is its name.
        inputs: the names of the leaf codes the result depends on, in order of first use.

    Operators ``+``, ``-`` (binary and unary), ``* scalar`` and ``/ scalar`` return new codes with
    the combined provenance.
    """

    code: np.ndarray
    label: object = None
    provenance: str = "z"
    inputs: tuple = ()

    def __post_init__(self):
        code = np.asarray(self.code, dtype=np.float32)
        if code.ndim not in (1, 2) or code.shape[-1] == 0:
            raise ValueError(
                f"`code` must have shape (latent_dim,) or (N, latent_dim). Received: code.shape={code.shape}"
            )
        code = code.copy()
        code.setflags(write=False)
        object.__setattr__(self, "code", code)
        if not isinstance(self.provenance, str):
            raise TypeError(f"`provenance` must be a string. Received: provenance={self.provenance!r}")
        if not self.inputs:
            object.__setattr__(self, "inputs", (self.provenance,))
        else:
            object.__setattr__(self, "inputs", tuple(self.inputs))

    @classmethod
    def named(cls, code, name, *, label=None):
        """Returns a leaf code called ``name``."""
        return cls(code=code, label=label, provenance=str(name), inputs=(str(name),))

    @property
    def latent_dim(self):
        """The length of the code."""
        return int(self.code.shape[-1])

    def as_batch(self):
        """Returns the code(s) as a float32 ``(N, latent_dim)`` array ready for a generator."""
        return np.array(self.code.reshape(-1, self.latent_dim), dtype=np.float32)

    def to_dict(self):
        """Returns ``{"provenance", "inputs", "label"}``: what to store to repeat the edit."""
        label = None if self.label is None else int(self.label)
        return {"provenance": self.provenance, "inputs": list(self.inputs), "label": label}

    def _check_other(self, other, operation):
        if not isinstance(other, LatentCode):
            raise TypeError(
                f"`{operation}` needs two LatentCode operands. Received: other={type(other).__name__}"
            )
        if other.latent_dim != self.latent_dim:
            raise ValueError(
                f"`{operation}` needs codes of the same latent_dim ({self.latent_dim}). "
                f"Received: other.latent_dim={other.latent_dim}"
            )
        if self.code.ndim == 2 and other.code.ndim == 2 and len(self.code) != len(other.code):
            raise ValueError(
                f"`{operation}` on two sets needs the same number of codes ({len(self.code)}). "
                f"Received: other.code.shape={other.code.shape}"
            )

    def _combined_label(self, other):
        return self.label if self.label == other.label else None

    def __add__(self, other):
        self._check_other(other, "add")
        return LatentCode(
            self.code + other.code,
            label=self._combined_label(other),
            provenance=f"({self.provenance} + {other.provenance})",
            inputs=_join_inputs(self.inputs, other.inputs),
        )

    def __sub__(self, other):
        self._check_other(other, "subtract")
        return LatentCode(
            self.code - other.code,
            label=self._combined_label(other),
            provenance=f"({self.provenance} - {other.provenance})",
            inputs=_join_inputs(self.inputs, other.inputs),
        )

    def __neg__(self):
        return LatentCode(-self.code, label=self.label, provenance=f"-{self.provenance}", inputs=self.inputs)

    def __mul__(self, scalar):
        if isinstance(scalar, bool) or not isinstance(scalar, numbers.Real):
            raise TypeError(f"A LatentCode can only be scaled by a real number. Received: scalar={scalar!r}")
        return LatentCode(
            self.code * np.float32(scalar),
            label=self.label,
            provenance=f"{_format_scalar(scalar)}*{self.provenance}",
            inputs=self.inputs,
        )

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if isinstance(scalar, bool) or not isinstance(scalar, numbers.Real):
            raise TypeError(f"A LatentCode can only be divided by a real number. Received: scalar={scalar!r}")
        if scalar == 0:
            raise ValueError("Cannot divide a LatentCode by zero. Received: scalar=0")
        return LatentCode(
            self.code / np.float32(scalar),
            label=self.label,
            provenance=f"{self.provenance}/{_format_scalar(scalar)}",
            inputs=self.inputs,
        )

    def __len__(self):
        return 1 if self.code.ndim == 1 else len(self.code)

    def __repr__(self):
        return f"LatentCode({self.provenance}, shape={self.code.shape}, label={self.label})"


def codes_from_array(codes, *, names=None, labels=None, prefix="z"):
    """Returns one named ``LatentCode`` per row of ``codes``.

    Args:
        codes: float ``(N, latent_dim)``.
        names: N names (e.g. image file stems); ``f"{prefix}{i}"`` when None.
        labels: N labels (or None).
        prefix: name prefix when ``names`` is None.

    Returns:
        list of ``LatentCode``.

    Raises:
        ValueError: if ``codes`` is not 2-D or ``names``/``labels`` have the wrong length.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2:
        raise ValueError(f"`codes` must have shape (N, latent_dim). Received: codes.shape={codes.shape}")
    if names is None:
        names = [f"{prefix}{i}" for i in range(len(codes))]
    if len(names) != len(codes):
        raise ValueError(f"`names` must have {len(codes)} entries. Received: len(names)={len(names)}")
    if labels is None:
        labels = [None] * len(codes)
    if len(labels) != len(codes):
        raise ValueError(f"`labels` must have {len(codes)} entries. Received: len(labels)={len(labels)}")
    return [
        LatentCode.named(code, name, label=None if label is None else int(label))
        for code, name, label in zip(codes, names, labels)
    ]


def mean_code(codes, *, name=None):
    """Returns the average of several codes as one ``LatentCode``.

    Fernández et al. 2021: averaging the codes of several images that share a visual pattern gives
    a cleaner vector for that pattern than any single code.

    Args:
        codes: a list of ``LatentCode`` (single codes), a ``LatentCode`` holding a set
            ``(N, latent_dim)``, or a float array ``(N, latent_dim)``.
        name: the provenance of the result; ``"mean(a, b, ...)"`` of the inputs when None.

    Returns:
        a single ``LatentCode`` ``(latent_dim,)``.

    Raises:
        ValueError: for an empty set or codes of different lengths.
        TypeError: for a list holding anything but LatentCode.
    """
    if isinstance(codes, LatentCode):
        if codes.code.ndim == 1:
            return codes
        provenance = name or f"mean({codes.provenance})"
        return LatentCode(codes.code.mean(axis=0), label=codes.label, provenance=provenance, inputs=codes.inputs)
    if isinstance(codes, np.ndarray):
        codes = codes_from_array(codes)
    codes = list(codes)
    if not codes:
        raise ValueError("`codes` is empty. Received: codes=[]")
    for code in codes:
        if not isinstance(code, LatentCode):
            raise TypeError(f"`codes` must hold LatentCode objects. Received: {type(code).__name__}")
        if code.code.ndim != 1 or code.latent_dim != codes[0].latent_dim:
            raise ValueError(
                f"`codes` must be single codes of one latent_dim ({codes[0].latent_dim}). "
                f"Received: code.shape={code.code.shape}"
            )
    if len(codes) == 1 and name is None:
        return codes[0]  # the average of one code is that code
    labels = {code.label for code in codes}
    provenance = name or f"mean({', '.join(code.provenance for code in codes)})"
    return LatentCode(
        np.mean(np.stack([code.code for code in codes]), axis=0),
        label=labels.pop() if len(labels) == 1 else None,
        provenance=provenance,
        inputs=_join_inputs(*(code.inputs for code in codes)),
    )


def stack_codes(codes):
    """Returns the codes of a list of ``LatentCode`` as one float32 ``(N, latent_dim)`` array."""
    codes = list(codes)
    if not codes:
        raise ValueError("`codes` is empty. Received: codes=[]")
    return np.concatenate([code.as_batch() for code in codes]).astype(np.float32)
