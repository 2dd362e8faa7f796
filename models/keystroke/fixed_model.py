"""Text-independent scorer for fixed-text typing (password, account number, passphrase).

The scorer never sees which text was typed: it gets a sample and the customer's enrolment
repetitions, aligned key by key, as F = 3K-2 timing features
(K log holds [s], K-1 log press-press latencies [s], K-1 release-press latencies [s]) and a
one-hot kind per feature. A small network shared by every feature position turns each
feature's deviation from the enrolment into evidence; a clipped k-NN distance over the whole
vector is added. The weights do not depend on the position or on the text, so the same model
serves any phrase and any number of keys.

Version 2 (FEATURES=v2, shipped as keystroke-fixed 2.0.0) adds, still text-independent:
* tempo: per feature kind, the sample's common shift from the enrolment mean (mean over the
  positions of that kind, in prior-sd units), broadcast to every position, and each position's
  deviation with that common shift removed. People type a phrase faster as they learn it; a
  uniform speed-up is weaker evidence against the customer than a changed rhythm.
* trend: the enrolment repetitions are in the order they were typed; each feature's linear
  trend across them (change over the enrolment, in sd units) and the deviation from the
  enrolment's last third. A customer still learning the phrase shows a trend at enrolment.
"""
import torch

PRIOR_SD = (0.19, 0.34, 0.11)  # typical within-user sd of log hold, log press-press, release-press


class FixedTextScorer(torch.nn.Module):
    def __init__(self, hidden=32, features="v1"):
        super().__init__()
        self.features = features
        n_in = 9 if features == "v1" else 16
        self.g = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
            torch.nn.Linear(hidden, 1))
        self.n0 = torch.nn.Parameter(torch.tensor(1.0))
        self.w = torch.nn.Parameter(torch.tensor([1.0, 0.0]))
        self.b = torch.nn.Parameter(torch.zeros(1))
        self.register_buffer("prior", torch.tensor(PRIOR_SD))
        if features != "v1":
            # weight of the tempo-free k-NN distance (v2)
            self.w2 = torch.nn.Parameter(torch.tensor(0.0))

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
        feats = [
            z, d / torch.sqrt(pr), ones * torch.log(sd / torch.sqrt(pr)), ones * m,
            ones * kinds[:, 0], ones * kinds[:, 1], ones * kinds[:, 2],
            ones / torch.sqrt(n), z.abs().clamp(max=3.0)]
        dk = ((sample / sd).unsqueeze(1) - (enrolment / sd).unsqueeze(0)).abs().clamp(max=2.0).mean(-1)
        knn = torch.topk(dk, 3, dim=1, largest=False).values
        extra = 0.0
        if self.features != "v1":
            spr = torch.sqrt(pr)
            per_kind = kinds.sum(0).clamp(min=1.0)                        # [3]
            # common shift per kind of the sample vs the enrolment mean [B,3] -> [B,F]
            shift = ((d / spr) @ kinds) / per_kind
            shift_f = shift @ kinds.t()
            r = (d - shift_f * spr) / sd                                  # rhythm deviation
            # enrolment trend: slope of each feature over the repetition index
            t = torch.cumsum(enrolment[:, :1] * 0.0 + 1.0, 0) - 1.0       # [N,1]: 0..N-1
            tc = t - t.mean(0)
            slope = (tc * (enrolment - m)).sum(0) / (tc * tc).sum(0).clamp(min=1e-6)
            span = slope * (n - 1.0) / sd                                 # change over enrolment, sd units
            trend_f = (span @ kinds) / per_kind                           # mean span per kind [3]
            w_late = (t >= (n - 1.0) * 2.0 / 3.0).float()                 # last third of the enrolment
            m_late = (w_late * enrolment).sum(0) / w_late.sum()
            z_late = (sample - m_late) / sd
            feats += [
                shift_f.clamp(-4.0, 4.0), r.clamp(-6.0, 6.0), r.abs().clamp(max=3.0),
                ones * span.clamp(-4.0, 4.0), ones * (trend_f @ kinds.t()).clamp(-4.0, 4.0),
                z_late.clamp(-6.0, 6.0), z_late.abs().clamp(max=3.0)]
            # k-NN distance on the rhythm alone (each enrolment rep's own tempo removed)
            ek = (enrolment - m) / spr
            eshift = (ek @ kinds) / per_kind @ kinds.t()                  # [N,F]
            sk = d / spr
            dr = ((sk - shift_f).unsqueeze(1) - (ek - eshift).unsqueeze(0)).abs()
            dr = (dr * (spr / sd)).clamp(max=2.0).mean(-1)
            knn_r = torch.topk(dr, 3, dim=1, largest=False).values
            extra = -5.0 * self.w2 * knn_r.mean(1)
        u = torch.stack(feats, -1)
        c = self.g(u).squeeze(-1).mean(1)
        return c - 5.0 * self.w[0] * knn.mean(1) - 5.0 * self.w[1] * knn[:, 0] + self.b + extra


class Ensemble(torch.nn.Module):
    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, sample, enrolment, kinds):
        return torch.stack([m(sample, enrolment, kinds) for m in self.members], 0).mean(0)
