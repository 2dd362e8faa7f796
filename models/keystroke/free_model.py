"""Free-text typing embedding: a 2-layer bidirectional GRU over 50-keystroke windows.

Input per keystroke (common.keystroke_rows): log hold, log press-press, release-press,
release-release, segment-start flag and a one-hot key position class (12 classes). The input
scaling below is part of the exported graph, so the service feeds the raw rows.
"""
import torch

from common import FREE_DIM

# (offset, scale, clip_lo, clip_hi) for the four numeric columns; clip before scaling
NUMERIC_NORM = ((2.3, 0.5, -20.0, 20.0), (1.7, 0.7, -20.0, 20.0), (0.0, 0.15, -1.0, 2.0), (0.0, 0.15, -1.0, 2.0))


class FreeTextNet(torch.nn.Module):
    def __init__(self, n_classes, hidden=64, emb=128):
        super().__init__()
        self.inp = torch.nn.Linear(FREE_DIM, hidden)
        self.gru = torch.nn.GRU(hidden, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(4 * hidden, emb)
        self.W = torch.nn.Parameter(torch.randn(n_classes, emb) * 0.01)  # training head only

    def normalise(self, x):
        cols = []
        for j, (off, sc, lo, hi) in enumerate(NUMERIC_NORM):
            cols.append((x[..., j:j + 1].clamp(lo, hi) + off) / sc)
        return torch.cat(cols + [x[..., 4:]], -1)

    def embed(self, x):
        h, _ = self.gru(torch.relu(self.inp(self.normalise(x))))
        mean = h.mean(1)
        std = torch.sqrt(((h - mean.unsqueeze(1)) ** 2).mean(1) + 1e-6)
        e = self.out(torch.cat([mean, std], -1))
        return e / e.norm(dim=-1, keepdim=True)

    def logits(self, e, y=None, margin=0.2, scale=30.0):
        c = e @ (self.W / self.W.norm(dim=-1, keepdim=True)).T
        if y is not None:
            c = c - margin * torch.nn.functional.one_hot(y, c.shape[1])
        return scale * c


class FreeTextVerifier(torch.nn.Module):
    """What ships: windows [B,50,17] + templates [T,128] -> embedding [B,128] and scores [B,T],
    cosine similarity normalised against a fixed cohort of training users' windows (symmetric
    score normalisation with the probe's and the template's top-k cohort similarities; topk = 0
    means plain cosine). At enrolment any template (e.g. zeros) works: only the embedding is used."""

    def __init__(self, net, cohort, topk):
        super().__init__()
        self.net = net
        self.register_buffer("cohort", cohort)
        self.topk = topk

    def forward(self, windows, template):
        e = self.net.embed(windows)
        return e, self.score(e, template)

    def score(self, e, template):
        t = template / (template.norm(dim=-1, keepdim=True) + 1e-12)
        s = e @ t.T
        if self.topk == 0:
            return s
        pc = torch.topk(e @ self.cohort.T, self.topk, dim=1).values
        tc = torch.topk(t @ self.cohort.T, self.topk, dim=1).values
        mp, sp = pc.mean(1, keepdim=True), pc.std(1, keepdim=True)
        mt, st = tc.mean(1).unsqueeze(0), tc.std(1).unsqueeze(0)
        return 0.5 * ((s - mp) / (sp + 1e-6) + (s - mt) / (st + 1e-6))
