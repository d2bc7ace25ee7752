"""The known wrong implementations, one per trap the chapters teach.

Each entry replaces one answer cell of an assignment's solution notebook (the cell that defines
``function``) with ``source`` and says which questions must lose how many points: the points of
the tests that catch the trap, and nothing else. ``assignments/build.py`` writes each one as a
notebook into ``assignments/wrong_submissions/``; ``tests/test_assignments.py`` grades them with
``otter run`` and checks the scores question by question.
"""

from __future__ import annotations

WRONG_SUBMISSIONS: list[dict] = [
    {
        "trap": "mask_sum",
        "assignment": "a1_fixmatch",
        "function": "fixmatch_unlabeled_loss",
        "why": "divides the masked sum by mask.sum() (the confident images) instead of the whole batch",
        # the clamp keeps a step without any confident image at 0 instead of 0/0 = NaN, so this
        # version trains (as the masked means of several reimplementations do), just with a
        # louder unlabeled term early on: the silent form of the trap
        "source": '''\
def fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold):
    targets, mask, _ = make_pseudo_labels(logits_weak, threshold)
    mask = mask.float()
    per_image = F.cross_entropy(logits_strong, targets, reduction="none")
    return (per_image * mask).sum() / mask.sum().clamp_min(1), mask''',
        # the worked example, the reference comparison and the gradient check lose; the empty
        # and the all-confident cases cannot tell the two apart
        "lost": {"q2": 3},
    },
    {
        "trap": "gradient_through_pseudo_label",
        "assignment": "a1_fixmatch",
        "function": "make_pseudo_labels",
        "why": "computes the pseudo-label and its confidence with gradient (no torch.no_grad, no detach)",
        "source": '''\
def make_pseudo_labels(logits, threshold):
    confidence, targets = logits.softmax(dim=1).max(dim=1)
    mask = confidence >= threshold
    return targets, mask, confidence''',
        "lost": {"q1": 1},
    },
    {
        "trap": "teacher_compared_with_itself",
        "assignment": "a2_consistency",
        "function": "consistency_loss",
        "why": "compares the teacher's prediction with itself: the consistency loss is always 0 (USB issues 102, 226)",
        "source": '''\
def consistency_loss(student, teacher, view_1, view_2):
    with torch.no_grad():
        probs = teacher(view_2).softmax(dim=1)
        target = teacher(view_2).softmax(dim=1)
    return ((probs - target) ** 2).mean()''',
        "lost": {"q2": 3},
    },
    {
        "trap": "mixup_without_max",
        "assignment": "a3_mixmatch",
        "function": "mixup",
        "why": "uses lambda instead of lambda' = max(lambda, 1 - lambda)",
        "source": '''\
def mixup(x, y, alpha):
    n = len(x)
    lam = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha))).sample((n,))
    perm = torch.randperm(n)
    lam_x = lam.reshape(-1, *([1] * (x.dim() - 1)))
    x_mixed = lam_x * x + (1 - lam_x) * x[perm]
    y_mixed = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
    return x_mixed, y_mixed, lam''',
        "lost": {"q2": 2},
    },
    {
        "trap": "guessing_moves_batchnorm",
        "assignment": "a3_mixmatch",
        "function": "guess_labels",
        "why": "the guessing forward passes update BatchNorm's running statistics",
        "source": '''\
def guess_labels(model, views, T):
    with torch.no_grad():
        probs = torch.stack([model(v).softmax(dim=1) for v in views]).mean(dim=0)
    return sharpen(probs, T)''',
        "lost": {"q3": 1},
    },
    {
        "trap": "aggregate_unfolded",
        "assignment": "a4_simmatch",
        "function": "calibrated_prediction",
        "why": "aggregates the unfolded q_hat instead of the raw similarity q^w that the official code aggregates",
        "source": '''\
def calibrated_prediction(p_w, q_w, bank_labels, a=0.9):
    q_hat = unfold(q_w, p_w, bank_labels)
    return a * p_w + (1 - a) * aggregate(q_hat, bank_labels, p_w.shape[1])''',
        # the worked example and the reference comparison lose; a = 1 cannot tell them apart
        "lost": {"q3": 2},
    },
]
