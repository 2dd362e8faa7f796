"""Text-independent scorer for fixed-text typing (password, account number, passphrase).

The scorer never sees which text was typed: it gets a sample and the customer's enrolment
repetitions, aligned key by key, as F = 3K-2 timing features
(K log holds [s], K-1 log press-press latencies [s], K-1 release-press latencies [s]) and a
one-hot kind per feature. A small network shared by every feature position turns each
feature's deviation from the enrolment into evidence; a clipped k-NN distance over the whole
vector is added. The weights do not depend on the position or on the text, so the same model
serves any phrase and any number of keys.
"""
import torch

PRIOR_SD = (0.19, 0.34, 0.11)  # typical within-user sd of log hold, log press-press, release-press


class FixedTextScorer(torch.nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.g = torch.nn.Sequential(
            torch.nn.Linear(9, hidden), torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
            torch.nn.Linear(hidden, 1))
        self.n0 = torch.nn.Parameter(torch.tensor(1.0))
        self.w = torch.nn.Parameter(torch.tensor([1.0, 0.0]))
        self.b = torch.nn.Parameter(torch.zeros(1))
        self.register_buffer("prior", torch.tensor(PRIOR_SD))

    def forward(self, sample, enrolment, kinds):
        # sample [B,F], enrolment [N,F], kinds [F,3] one-hot -> score [B] (higher = more genuine)
        n = (enrolment[:, :1] * 0.0 + 1.0).sum()
        m = enrolment.mean(0)
        v = ((enrolment - m) ** 2).mean(0)
        pr = (kinds @ self.prior) ** 2
        n0 = torch.nn.functional.softplus(self.n0) * 5.0
        sd = torch.sqrt((n * v + n0 * pr) / (n + n0))
        d = sample - m
        z = d / sd
        ones = sample * 0.0 + 1.0
        u = torch.stack([
            z, d / torch.sqrt(pr), ones * torch.log(sd / torch.sqrt(pr)), ones * m,
            ones * kinds[:, 0], ones * kinds[:, 1], ones * kinds[:, 2],
            ones / torch.sqrt(n), z.abs().clamp(max=3.0)], -1)
        c = self.g(u).squeeze(-1).mean(1)
        dk = ((sample / sd).unsqueeze(1) - (enrolment / sd).unsqueeze(0)).abs().clamp(max=2.0).mean(-1)
        knn = torch.topk(dk, 3, dim=1, largest=False).values
        return c - 5.0 * self.w[0] * knn.mean(1) - 5.0 * self.w[1] * knn[:, 0] + self.b


class Ensemble(torch.nn.Module):
    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, sample, enrolment, kinds):
        return torch.stack([m(sample, enrolment, kinds) for m in self.members], 0).mean(0)
