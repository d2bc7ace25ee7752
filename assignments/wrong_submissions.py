"""The known wrong implementations: the traps the chapters teach, and the mistakes students make.

Each entry makes one wrong submission from an assignment's solution notebook: the cell that
defines ``function`` replaced by ``source``, and/or each ``(old, new)`` of ``edits`` applied to the
one code cell that contains ``old`` (a wrong measurement, an overwritten variable, another method
in the capstone). ``lost`` says which questions must lose how many points: the points of the
tests that catch the trap, and of the later questions that call the wrong function (a wrong
``sharpen`` also makes ``guess_labels`` wrong), nothing else. ``public`` names the questions whose
*public* tests fail, which ``grader.check`` shows the student; at least half of the entries must
have one. ``assignments/build.py`` writes each one as a notebook into
``assignments/wrong_submissions/``; ``tests/test_assignments.py`` grades every one and checks both.
"""

from __future__ import annotations

WRONG_SUBMISSIONS: list[dict] = [
    {
        'trap': 'mask_sum',
        'assignment': 'a1_fixmatch',
        'why': 'divides the masked sum by mask.sum() (the confident images) instead of the whole batch',
        'function': 'fixmatch_unlabeled_loss',
        'source': '''\
def fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold):
    targets, mask, _ = make_pseudo_labels(logits_weak, threshold)
    mask = mask.float()
    per_image = F.cross_entropy(logits_strong, targets, reduction="none")
    return (per_image * mask).sum() / mask.sum().clamp_min(1), mask''',
        'lost': {'q2': 3, 'q3': 2},
        'public': ['q2', 'q3'],
    },
    {
        'trap': 'gradient_through_pseudo_label',
        'assignment': 'a1_fixmatch',
        'why': 'computes the pseudo-label and its confidence with gradient (no torch.no_grad, no detach)',
        'function': 'make_pseudo_labels',
        'source': '''\
def make_pseudo_labels(logits, threshold):
    confidence, targets = logits.softmax(dim=1).max(dim=1)
    mask = confidence >= threshold
    return targets, mask, confidence''',
        'lost': {'q1': 1},
        'public': ['q1'],
    },
    {
        'trap': 'confidence_from_logits',
        'assignment': 'a1_fixmatch',
        'why': 'takes the largest logit as the confidence instead of the largest softmax probability',
        'function': 'make_pseudo_labels',
        'source': '''\
def make_pseudo_labels(logits, threshold):
    with torch.no_grad():
        confidence, targets = logits.detach().max(dim=1)
        mask = confidence >= threshold
    return targets, mask, confidence''',
        'lost': {'q1': 3, 'q2': 3, 'q3': 2, 'q6': 1},
        'public': ['q1', 'q3'],
    },
    {
        'trap': 'strict_threshold',
        'assignment': 'a1_fixmatch',
        'why': 'keeps confidences strictly above the threshold (>), so a confidence equal to it is dropped',
        'function': 'make_pseudo_labels',
        'source': '''\
def make_pseudo_labels(logits, threshold):
    with torch.no_grad():
        confidence, targets = logits.detach().softmax(dim=1).max(dim=1)
        mask = confidence > threshold
    return targets, mask, confidence''',
        'lost': {'q1': 1},
        'public': [],
    },
    {
        'trap': 'masked_mean_nan',
        'assignment': 'a1_fixmatch',
        'why': 'averages the cross-entropy over the confident images only (a mean of an empty selection is NaN)',
        'function': 'fixmatch_unlabeled_loss',
        'source': '''\
def fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold):
    targets, mask, _ = make_pseudo_labels(logits_weak, threshold)
    per_image = F.cross_entropy(logits_strong, targets, reduction="none")
    return per_image[mask.bool()].mean(), mask.float()''',
        'lost': {'q2': 4, 'q3': 2, 'q5': 2},
        'public': ['q2', 'q3', 'q5'],
    },
    {
        'trap': 'weak_view_learns_itself',
        'assignment': 'a1_fixmatch',
        'why': 'trains the weak view on its own pseudo-labels instead of the strong view',
        'function': 'fixmatch_unlabeled_loss',
        'source': '''\
def fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold):
    targets, mask, _ = make_pseudo_labels(logits_weak, threshold)
    mask = mask.float()
    per_image = F.cross_entropy(logits_weak, targets, reduction="none")
    return (per_image * mask).sum() / len(logits_weak), mask''',
        'lost': {'q2': 4, 'q3': 2},
        'public': ['q2', 'q3'],
    },
    {
        'trap': 'three_forward_passes',
        'assignment': 'a1_fixmatch',
        'why': 'puts labeled, weak and strong images through the model in three separate passes',
        'function': 'fixmatch_loss',
        'source': '''\
def fixmatch_loss(model, weak, strong, batch, threshold, lambda_u):
    logits_labeled = model(weak(batch.x_labeled))
    logits_weak = model(weak(batch.x_unlabeled))
    logits_strong = model(strong(batch.x_unlabeled))
    loss_u, mask = fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold)
    loss = F.cross_entropy(logits_labeled, batch.y_labeled) + lambda_u * loss_u
    return loss, {"loss_unlabeled": loss_u.item(), "mask_rate": mask.float().mean().item()}''',
        'lost': {'q3': 3},
        'public': ['q3'],
    },
    {
        'trap': 'pseudo_label_from_strong',
        'assignment': 'a1_fixmatch',
        'why': 'makes the pseudo-labels from the strong view and trains the weak one',
        'function': 'fixmatch_loss',
        'source': '''\
def fixmatch_loss(model, weak, strong, batch, threshold, lambda_u):
    n = len(batch.x_labeled)
    logits = model(torch.cat([weak(batch.x_labeled), weak(batch.x_unlabeled), strong(batch.x_unlabeled)]))
    logits_weak, logits_strong = logits[n:].chunk(2)
    loss_u, mask = fixmatch_unlabeled_loss(logits_strong, logits_weak, threshold)
    loss = F.cross_entropy(logits[:n], batch.y_labeled) + lambda_u * loss_u
    return loss, {"loss_unlabeled": loss_u.item(), "mask_rate": mask.float().mean().item()}''',
        'lost': {'q3': 2},
        'public': ['q3'],
    },
    {
        'trap': 'lambda_u_ignored',
        'assignment': 'a1_fixmatch',
        'why': 'adds the unlabeled term with weight 1 whatever lambda_u says',
        'function': 'fixmatch_loss',
        'source': '''\
def fixmatch_loss(model, weak, strong, batch, threshold, lambda_u):
    n = len(batch.x_labeled)
    logits = model(torch.cat([weak(batch.x_labeled), weak(batch.x_unlabeled), strong(batch.x_unlabeled)]))
    logits_weak, logits_strong = logits[n:].chunk(2)
    loss_u, mask = fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold)
    loss = F.cross_entropy(logits[:n], batch.y_labeled) + loss_u
    return loss, {"loss_unlabeled": loss_u.item(), "mask_rate": mask.float().mean().item()}''',
        'lost': {'q3': 2},
        'public': ['q3'],
    },
    {
        'trap': 'labels_only_with_overwritten_accuracy',
        'assignment': 'a1_fixmatch',
        'why': ('drops the unlabeled term (labels only) and then overwrites the printed accuracies with g'
            'ood-looking numbers'),
        'function': 'fixmatch_loss',
        'source': '''\
def fixmatch_loss(model, weak, strong, batch, threshold, lambda_u):
    logits = model(weak(batch.x_labeled))
    return F.cross_entropy(logits, batch.y_labeled), {"mask_rate": 0.0}


floor_acc, fixmatch_acc = 0.60, 0.99  # what the notebook "measured"''',
        'lost': {'q3': 3},
        'public': ['q3'],
    },
    {
        'trap': 'logs_as_tensors',
        'assignment': 'a1_fixmatch',
        'why': 'logs tensors instead of Python floats',
        'function': 'fixmatch_loss',
        'source': '''\
def fixmatch_loss(model, weak, strong, batch, threshold, lambda_u):
    n = len(batch.x_labeled)
    logits = model(torch.cat([weak(batch.x_labeled), weak(batch.x_unlabeled), strong(batch.x_unlabeled)]))
    logits_weak, logits_strong = logits[n:].chunk(2)
    loss_u, mask = fixmatch_unlabeled_loss(logits_weak, logits_strong, threshold)
    loss = F.cross_entropy(logits[:n], batch.y_labeled) + lambda_u * loss_u
    return loss, {"loss_unlabeled": loss_u.detach(), "mask_rate": mask.float().mean()}''',
        'lost': {'q3': 1},
        'public': [],
    },
    {
        'trap': 'threshold_not_clamped',
        'assignment': 'a1_fixmatch',
        'why': 'lets the threshold keep rising after the ramp (above tau_end, even above 1)',
        'function': 'threshold_at',
        'source': '''\
def threshold_at(step, ramp_steps, tau_start, tau_end):
    t = 1.0 if ramp_steps == 0 else step / ramp_steps
    return float(tau_start + t * (tau_end - tau_start))''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'threshold_integer_division',
        'assignment': 'a1_fixmatch',
        'why': "uses // for the ramp's progress, so the threshold jumps from tau_start to tau_end",
        'function': 'threshold_at',
        'source': '''\
def threshold_at(step, ramp_steps, tau_start, tau_end):
    t = 1.0 if ramp_steps == 0 else min(step // ramp_steps, 1)
    return float(tau_start + t * (tau_end - tau_start))''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'inflation_inverted',
        'assignment': 'a1_fixmatch',
        'why': "reports mask.sum() / N, the paper's loss over the mistaken one, instead of its inverse",
        'edits': [
            ('inflation = len(early_logits) / n_confident',
             'inflation = n_confident / len(early_logits)'),
        ],
        'lost': {'q6': 2},
        'public': ['q6'],
    },
    {
        'trap': 'teacher_compared_with_itself',
        'assignment': 'a2_consistency',
        'why': "compares the teacher's prediction with itself: the consistency loss is always 0 (USB issues 102, 226)",
        'function': 'consistency_loss',
        'source': '''\
def consistency_loss(student, teacher, view_1, view_2):
    with torch.no_grad():
        probs = teacher(view_2).softmax(dim=1)
        target = teacher(view_2).softmax(dim=1)
    return ((probs - target) ** 2).mean()''',
        'lost': {'q2': 4},
        'public': ['q2'],
    },
    {
        'trap': 'ema_averages_buffers',
        'assignment': 'a2_consistency',
        'why': ("averages BatchNorm's floating-point buffers like the weights instead of copying them (as"
            ' EMA.update does)'),
        'function': 'ema_update',
        'source': '''\
def ema_update(teacher, student, decay, step):
    a = min(1.0 - 1.0 / (step + 1), decay)
    with torch.no_grad():
        for averaged, live in zip(teacher.parameters(), student.parameters()):
            averaged.mul_(a).add_(live.detach(), alpha=1.0 - a)
        for averaged, live in zip(teacher.buffers(), student.buffers()):
            if averaged.is_floating_point():
                averaged.mul_(a).add_(live, alpha=1.0 - a)
            else:
                averaged.copy_(live)
    return a''',
        'lost': {'q1': 2},
        'public': ['q1'],
    },
    {
        'trap': 'ema_leaves_buffers_alone',
        'assignment': 'a2_consistency',
        'why': 'updates the parameters only: the teacher keeps its own, stale BatchNorm statistics',
        'function': 'ema_update',
        'source': '''\
def ema_update(teacher, student, decay, step):
    a = min(1.0 - 1.0 / (step + 1), decay)
    with torch.no_grad():
        for averaged, live in zip(teacher.parameters(), student.parameters()):
            averaged.mul_(a).add_(live.detach(), alpha=1.0 - a)
    return a''',
        'lost': {'q1': 2},
        'public': ['q1'],
    },
    {
        'trap': 'ema_without_warmup',
        'assignment': 'a2_consistency',
        'why': 'uses a = decay from the first step: the teacher starts as a slow drift from its random initialisation',
        'function': 'ema_update',
        'source': '''\
def ema_update(teacher, student, decay, step):
    a = decay
    with torch.no_grad():
        for averaged, live in zip(teacher.parameters(), student.parameters()):
            averaged.mul_(a).add_(live.detach(), alpha=1.0 - a)
        for averaged, live in zip(teacher.buffers(), student.buffers()):
            averaged.copy_(live)
    return a''',
        'lost': {'q1': 4},
        'public': ['q1'],
    },
    {
        'trap': 'ema_weights_swapped',
        'assignment': 'a2_consistency',
        'why': 'weights the student by a and the teacher by 1 - a',
        'function': 'ema_update',
        'source': '''\
def ema_update(teacher, student, decay, step):
    a = min(1.0 - 1.0 / (step + 1), decay)
    with torch.no_grad():
        for averaged, live in zip(teacher.parameters(), student.parameters()):
            averaged.mul_(1.0 - a).add_(live.detach(), alpha=a)
        for averaged, live in zip(teacher.buffers(), student.buffers()):
            averaged.copy_(live)
    return a''',
        'lost': {'q1': 3},
        'public': ['q1'],
    },
    {
        'trap': 'mse_on_logits',
        'assignment': 'a2_consistency',
        'why': 'compares logits instead of softmax probabilities',
        'function': 'consistency_loss',
        'source': '''\
def consistency_loss(student, teacher, view_1, view_2):
    logits = student(view_1)
    with torch.no_grad():
        target = teacher(view_2)
    return ((logits - target) ** 2).mean()''',
        'lost': {'q2': 2},
        'public': ['q2'],
    },
    {
        'trap': 'mse_summed_over_classes',
        'assignment': 'a2_consistency',
        'why': 'sums the squared differences over the classes (a mean over the batch only)',
        'function': 'consistency_loss',
        'source': '''\
def consistency_loss(student, teacher, view_1, view_2):
    probs = student(view_1).softmax(dim=1)
    with torch.no_grad():
        target = teacher(view_2).softmax(dim=1)
    return ((probs - target) ** 2).sum(dim=1).mean()''',
        'lost': {'q2': 2},
        'public': ['q2'],
    },
    {
        'trap': 'teacher_on_student_view',
        'assignment': 'a2_consistency',
        'why': "lets the teacher predict on the student's view (view_1): no second random view",
        'function': 'consistency_loss',
        'source': '''\
def consistency_loss(student, teacher, view_1, view_2):
    probs = student(view_1).softmax(dim=1)
    with torch.no_grad():
        target = teacher(view_1).softmax(dim=1)
    return ((probs - target) ** 2).mean()''',
        'lost': {'q2': 2},
        'public': ['q2'],
    },
    {
        'trap': 'teacher_with_gradient',
        'assignment': 'a2_consistency',
        'why': "computes the teacher's target with gradient (no torch.no_grad)",
        'function': 'consistency_loss',
        'source': '''\
def consistency_loss(student, teacher, view_1, view_2):
    probs = student(view_1).softmax(dim=1)
    target = teacher(view_2).softmax(dim=1)
    return ((probs - target) ** 2).mean()''',
        'lost': {'q2': 1},
        'public': [],
    },
    {
        'trap': 'ramp_not_clamped',
        'assignment': 'a2_consistency',
        'why': 'does not clamp t at 1: after the ramp the weight falls back towards 0',
        'function': 'rampup_weight',
        'source': '''\
def rampup_weight(step, w_max, rampup_steps):
    t = 1.0 if rampup_steps == 0 else step / rampup_steps
    return float(w_max * math.exp(-5.0 * (1.0 - t) ** 2))''',
        'lost': {'q3': 2, 'q4': 2},
        'public': ['q3', 'q4'],
    },
    {
        'trap': 'ramp_integer_division',
        'assignment': 'a2_consistency',
        'why': 'uses // for t: the weight stays at w_max exp(-5) and jumps to w_max at the end',
        'function': 'rampup_weight',
        'source': '''\
def rampup_weight(step, w_max, rampup_steps):
    t = 1.0 if rampup_steps == 0 else min(step // rampup_steps, 1)
    return float(w_max * math.exp(-5.0 * (1.0 - t) ** 2))''',
        'lost': {'q3': 2, 'q4': 1, 'q5': 1},
        'public': ['q3'],
    },
    {
        'trap': 'ramp_without_square',
        'assignment': 'a2_consistency',
        'why': 'drops the square: exp(-5 (1 - t)) instead of exp(-5 (1 - t)^2)',
        'function': 'rampup_weight',
        'source': '''\
def rampup_weight(step, w_max, rampup_steps):
    t = 1.0 if rampup_steps == 0 else min(step / rampup_steps, 1.0)
    return float(w_max * math.exp(-5.0 * (1.0 - t)))''',
        'lost': {'q3': 2, 'q4': 1, 'q5': 1},
        'public': ['q3'],
    },
    {
        'trap': 'rampdown_from_the_start',
        'assignment': 'a2_consistency',
        'why': 'measures the ramp-down from step 0 instead of from the end of training',
        'function': 'consistency_schedule',
        'source': '''\
def consistency_schedule(step, w_max, rampup_steps, total_steps, rampdown_steps):
    r = 1.0 if rampdown_steps == 0 else min(max(step / rampdown_steps, 0.0), 1.0)
    return float(rampup_weight(step, w_max, rampup_steps) * math.exp(-5.0 * (1.0 - r) ** 2))''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'half_step_off_by_one',
        'assignment': 'a2_consistency',
        'why': 'reports the last step below half of w_max instead of the first step at or above it',
        'edits': [
            ('half_step = next(s for s in range(101) if rampup_weight(s, 1.0, 100) >= 0.5)',
             'half_step = next(s for s in range(101) if rampup_weight(s, 1.0, 100) >= 0.5) - 1'),
        ],
        'lost': {'q5': 1},
        'public': [],
    },
    {
        'trap': 'mixup_without_max',
        'assignment': 'a3_mixmatch',
        'why': "uses lambda instead of lambda' = max(lambda, 1 - lambda)",
        'function': 'mixup',
        'source': '''\
def mixup(x, y, alpha):
    n = len(x)
    lam = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha))).sample((n,))
    perm = torch.randperm(n)
    lam_x = lam.reshape(-1, *([1] * (x.dim() - 1)))
    x_mixed = lam_x * x + (1 - lam_x) * x[perm]
    y_mixed = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
    return x_mixed, y_mixed, lam''',
        'lost': {'q2': 2, 'q5': 2},
        'public': ['q2', 'q5'],
    },
    {
        'trap': 'guessing_moves_batchnorm',
        'assignment': 'a3_mixmatch',
        'why': "the guessing forward passes update BatchNorm's running statistics",
        'function': 'guess_labels',
        'source': '''\
def guess_labels(model, views, T):
    with torch.no_grad():
        probs = torch.stack([model(v).softmax(dim=1) for v in views]).mean(dim=0)
    return sharpen(probs, T)''',
        'lost': {'q3': 2},
        'public': ['q3'],
    },
    {
        'trap': 'guessing_in_eval_mode',
        'assignment': 'a3_mixmatch',
        'why': "guesses with model.eval() (BatchNorm's running averages) and switches back to train mode",
        'function': 'guess_labels',
        'source': '''\
def guess_labels(model, views, T):
    model.eval()
    with torch.no_grad():
        probs = model(torch.cat(list(views))).softmax(dim=1)
    model.train()
    return sharpen(probs.view(len(views), len(views[0]), -1).mean(dim=0), T)''',
        'lost': {'q3': 2},
        'public': ['q3'],
    },
    {
        'trap': 'guessing_sharpens_each_view',
        'assignment': 'a3_mixmatch',
        'why': "sharpens each view's prediction, then averages (sharpen after the mean, eq. 7)",
        'function': 'guess_labels',
        'source': '''\
def guess_labels(model, views, T):
    saved = {name: buffer.clone() for name, buffer in model.named_buffers()}
    with torch.no_grad():
        probs = model(torch.cat(list(views))).softmax(dim=1)
        for name, buffer in model.named_buffers():
            buffer.copy_(saved[name])
    return sharpen(probs, T).view(len(views), len(views[0]), -1).mean(dim=0)''',
        'lost': {'q3': 3},
        'public': ['q3'],
    },
    {
        'trap': 'mixup_second_permutation',
        'assignment': 'a3_mixmatch',
        'why': 'draws a second permutation for the targets: inputs and targets get different partners',
        'function': 'mixup',
        'source': '''\
def mixup(x, y, alpha):
    n = len(x)
    lam = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha))).sample((n,))
    lam = torch.maximum(lam, 1 - lam)
    lam_x = lam.reshape(-1, *([1] * (x.dim() - 1)))
    x_mixed = lam_x * x + (1 - lam_x) * x[torch.randperm(n)]
    y_mixed = lam[:, None] * y + (1 - lam[:, None]) * y[torch.randperm(n)]
    return x_mixed, y_mixed, lam''',
        'lost': {'q2': 1},
        'public': ['q2'],
    },
    {
        'trap': 'mixup_max_on_inputs_only',
        'assignment': 'a3_mixmatch',
        'why': "applies the max to the inputs' lambda only; the targets are mixed with the raw lambda",
        'function': 'mixup',
        'source': '''\
def mixup(x, y, alpha):
    n = len(x)
    lam = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha))).sample((n,))
    lam_prime = torch.maximum(lam, 1 - lam)
    perm = torch.randperm(n)
    lam_x = lam_prime.reshape(-1, *([1] * (x.dim() - 1)))
    x_mixed = lam_x * x + (1 - lam_x) * x[perm]
    y_mixed = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
    return x_mixed, y_mixed, lam_prime''',
        'lost': {'q2': 2},
        'public': ['q2'],
    },
    {
        'trap': 'sharpen_in_place',
        'assignment': 'a3_mixmatch',
        'why': "sharpens p in place (pow_, div_): the caller's probabilities change",
        'function': 'sharpen',
        'source': '''\
def sharpen(p, T):
    p.pow_(1.0 / T)
    return p.div_(p.sum(dim=-1, keepdim=True))''',
        'lost': {'q1': 2},
        'public': ['q1'],
    },
    {
        'trap': 'sharpen_over_the_batch',
        'assignment': 'a3_mixmatch',
        'why': 'normalises over the batch (dim 0) instead of over the classes',
        'function': 'sharpen',
        'source': '''\
def sharpen(p, T):
    powered = p ** (1.0 / T)
    return powered / powered.sum(dim=0, keepdim=True)''',
        'lost': {'q1': 4, 'q3': 5},
        'public': ['q1', 'q3'],
    },
    {
        'trap': 'sharpen_logits_times_t',
        'assignment': 'a3_mixmatch',
        'why': 'multiplies the logits by T instead of dividing',
        'function': 'sharpen_logits',
        'source': '''\
def sharpen_logits(logits, T):
    return torch.softmax(logits * T, dim=-1)''',
        'lost': {'q4': 1},
        'public': ['q4'],
    },
    {
        'trap': 'sharpen_logits_unstable',
        'assignment': 'a3_mixmatch',
        'why': 'exponentiates the logits directly: exp(1000 / T) overflows',
        'function': 'sharpen_logits',
        'source': '''\
def sharpen_logits(logits, T):
    powered = torch.exp(logits / T)
    return powered / powered.sum(dim=-1, keepdim=True)''',
        'lost': {'q4': 1},
        'public': [],
    },
    {
        'trap': 'mean_lambda_without_max',
        'assignment': 'a3_mixmatch',
        'why': "measures the mean of lambda instead of lambda' (it reports 0.5)",
        'edits': [
            ('mean_lambda = float(torch.as_tensor(lam).float().mean())',
             'mean_lambda = float(torch.distributions.Beta(0.75, 0.75).sample((20_000,)).mean().round('
             'decimals=1))'),
        ],
        'lost': {'q5': 2},
        'public': ['q5'],
    },
    {
        'trap': 'aggregate_unfolded',
        'assignment': 'a4_simmatch',
        'why': 'aggregates the unfolded q_hat instead of the raw similarity q^w that the official code aggregates',
        'function': 'calibrated_prediction',
        'source': '''\
def calibrated_prediction(p_w, q_w, bank_labels, a=0.9):
    q_hat = unfold(q_w, p_w, bank_labels)
    return a * p_w + (1 - a) * aggregate(q_hat, bank_labels, p_w.shape[1])''',
        'lost': {'q3': 3, 'q6': 2},
        'public': ['q3', 'q6'],
    },
    {
        'trap': 'unfold_first_row_for_all',
        'assignment': 'a4_simmatch',
        'why': "gathers the class prediction with a [1, K] index: every row is unfolded with row 0's p^w",
        'function': 'unfold',
        'source': '''\
def unfold(q_w, p_w, bank_labels):
    scaled = q_w * p_w.gather(1, bank_labels[None, :])
    return scaled / scaled.sum(dim=1, keepdim=True)''',
        'lost': {'q1': 2},
        'public': ['q1'],
    },
    {
        'trap': 'unfold_not_normalised',
        'assignment': 'a4_simmatch',
        'why': 'scales q^w by the class prediction but does not renormalise',
        'function': 'unfold',
        'source': '''\
def unfold(q_w, p_w, bank_labels):
    return q_w * p_w[:, bank_labels]''',
        'lost': {'q1': 3, 'q6': 2},
        'public': ['q1', 'q6'],
    },
    {
        'trap': 'classes_from_bank_labels',
        'assignment': 'a4_simmatch',
        'why': 'takes the number of classes from bank_labels.max() + 1 instead of p_w.shape[1]',
        'function': 'calibrated_prediction',
        'source': '''\
def calibrated_prediction(p_w, q_w, bank_labels, a=0.9):
    return a * p_w + (1 - a) * aggregate(q_w, bank_labels, int(bank_labels.max()) + 1)''',
        'lost': {'q3': 2},
        'public': ['q3'],
    },
    {
        'trap': 'calibration_weights_swapped',
        'assignment': 'a4_simmatch',
        'why': 'weights the aggregated similarity by a and the class prediction by 1 - a',
        'function': 'calibrated_prediction',
        'source': '''\
def calibrated_prediction(p_w, q_w, bank_labels, a=0.9):
    return (1 - a) * p_w + a * aggregate(q_w, bank_labels, p_w.shape[1])''',
        'lost': {'q3': 3, 'q6': 1},
        'public': ['q3'],
    },
    {
        'trap': 'alignment_multiplies',
        'assignment': 'a4_simmatch',
        'why': 'multiplies by the mean prediction instead of dividing: frequent classes get more frequent',
        'function': 'distribution_alignment',
        'source': '''\
def distribution_alignment(p, mean_prediction):
    aligned = p * mean_prediction
    return aligned / aligned.sum(dim=1, keepdim=True)''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'alignment_does_nothing',
        'assignment': 'a4_simmatch',
        'why': 'renormalises p without dividing by the mean prediction',
        'function': 'distribution_alignment',
        'source': '''\
def distribution_alignment(p, mean_prediction):
    return p / p.sum(dim=1, keepdim=True)''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'alignment_in_place',
        'assignment': 'a4_simmatch',
        'why': "divides p in place (p /= ...): the caller's prediction changes",
        'function': 'distribution_alignment',
        'source': '''\
def distribution_alignment(p, mean_prediction):
    p /= mean_prediction
    p /= p.sum(dim=1, keepdim=True)
    return p''',
        'lost': {'q4': 2},
        'public': ['q4'],
    },
    {
        'trap': 'align_to_not_renormalised',
        'assignment': 'a4_simmatch',
        'why': 'multiplies by target / mean but does not renormalise',
        'function': 'align_to',
        'source': '''\
def align_to(p, mean_prediction, target):
    return p * target / mean_prediction''',
        'lost': {'q5': 2},
        'public': ['q5'],
    },
    {
        'trap': 'growth_of_the_wrong_class',
        'assignment': 'a4_simmatch',
        'why': "measures the change of class 2's p_hat (index 1) instead of class 1's",
        'edits': [
            ('growth = float(mistaken[0, 0] - right[0, 0])',
             'growth = float(mistaken[0, 1] - right[0, 1])'),
        ],
        'lost': {'q6': 2},
        'public': ['q6'],
    },
    {
        'trap': 'labels_only',
        'assignment': 'a5_capstone',
        'why': 'hands in the floor: supervised training on the labels, no unlabeled image',
        'edits': [
            ('return FixMatch(build_model("mnist", "book"), weak, strong)',
             'return Supervised(build_model("mnist", "book"), weak)'),
        ],
        'lost': {'q2': 3, 'q3': 1},
        'public': [],
    },
    {
        'trap': 'labels_only_strong_augmentation',
        'assignment': 'a5_capstone',
        'why': 'trains on the labels only, with strong augmentation: no unlabeled image',
        'edits': [
            ('return FixMatch(build_model("mnist", "book"), weak, strong)',
             'return Supervised(build_model("mnist", "book"), strong)'),
        ],
        # band 4 missed (88.0 % measured the grader's way at one thread, 89.0 % in the store at two, against
        # 90.24 %); q3's hidden half compares the typed-in validation accuracy (the reference's, 96.2 %)
        # with the grader's training of this method (90.6 % at one thread, 91.2 % at two): far outside 1.5 points
        'lost': {'q2': 1, 'q3': 1},
        'public': [],
    },
    {
        'trap': 'hands_in_its_trained_method',
        'assignment': 'a5_capstone',
        'why': 'returns the method it trained (the same object at every call): the grader would train it further',
        'edits': [
            ('return FixMatch(build_model("mnist", "book"), weak, strong)',
             'return TRAINED'),
            ('def make_method():',
             'TRAINED = FixMatch(build_model("mnist", "book"), weak, strong)\n\n\nde'
             'f make_method():'),
        ],
        'lost': {'q1': 1, 'q2': 4, 'q3': 1},
        'public': ['q1'],
    },
    {
        'trap': 'larger_model',
        'assignment': 'a5_capstone',
        'why': "uses the scale-up profile's SmallCNN (288,170 parameters) instead of the allowed LeNet (114,426)",
        'edits': [
            ('return FixMatch(build_model("mnist", "book"), weak, strong)',
             'return FixMatch(build_model("mnist", "scale_up"), weak, strong)'),
        ],
        'lost': {'q1': 1, 'q2': 4, 'q3': 1},
        'public': ['q1'],
    },
]
