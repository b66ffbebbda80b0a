"""One DCGAN training step: the discriminator's update, then the generator's.

This is the step of pytorch/examples ``dcgan/main.py`` with its names and in its order:
each forward pass of D is followed by its own backward pass, which is also the order
``DistributedDataParallel`` needs (it averages gradients between processes during each
backward pass). Both training loops run it: the plain reference loop as it is, the fast
loop (:mod:`dcgan_lib.fast`) inside autocast and a captured CUDA graph. The numbers it
returns are the ones the familiar ``Loss_D Loss_G D(x) D(G(z))`` line prints
(:data:`STATS`).
"""

from __future__ import annotations

import torch

from .losses import bce_with_target, generator_loss

# One step's numbers, in the order train_step returns them (pytorch/examples' names).
STATS = ("errD", "errG", "D_x", "D_G_z1", "D_G_z2")
HISTORY_KEYS = ("step", "epoch", *STATS, "seconds")  # what a training run records per step


def train_step(netG, netD, optimizerG, optimizerD, real, noise,
               g_loss="non_saturating", real_label=1.0, fake_label=0.0):
    """One step on ``real`` (B, C, H, W) in [-1, 1] and ``noise`` (B, latent_dim).

    Returns a tensor of :data:`STATS` on the step's device: the two losses, and the mean
    probability D gives the real batch (``D_x``) and the fake batch before (``D_G_z1``)
    and after (``D_G_z2``) its own update.
    """
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    output_real = netD(real)                    # one logit per image, shape (B,)
    errD_real = bce_with_target(output_real, real_label)
    errD_real.backward()
    fake = netG(noise)                          # (B, C, H, W) in [-1, 1]
    output_fake = netD(fake.detach())           # detach: this update must not reach G
    errD_fake = bce_with_target(output_fake, fake_label)
    errD_fake.backward()                        # adds to the real batch's gradients
    optimizerD.step()
    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    output = netD(fake)                         # the same fakes, through the updated D
    errG = generator_loss(output, g_loss)
    # G's gradients only: netD.zero_grad() would clear D's before they were ever used
    errG.backward(inputs=list(netG.parameters()))
    optimizerG.step()
    with torch.no_grad():
        D_x, D_G_z1, D_G_z2 = (torch.sigmoid(o).mean()
                               for o in (output_real, output_fake, output))
        return torch.stack([errD_real + errD_fake, errG, D_x, D_G_z1, D_G_z2])


def log_line(epoch, epochs, i, steps, stats) -> str:
    """The line pytorch/examples prints: ``[epoch/epochs][i/steps] Loss_D ... D(G(z)) a / b``."""
    errD, errG, D_x, D_G_z1, D_G_z2 = (float(v) for v in stats)
    return (f"[{epoch}/{epochs}][{i}/{steps}] Loss_D: {errD:.4f} Loss_G: {errG:.4f} "
            f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
