"""Measuring generative models: mode coverage on 2-D mixtures, and sample quality on MNIST
(FID, KID, precision/recall on the features of the course's own classifier), plus the VAE's NLL."""


# ---- Mode coverage on 2-D mixtures (PacGAN protocol): mode_metrics (written with the GAN lessons) ----


# ---- Sample quality on MNIST: mnist_classifier, mnist_features, fid, kid, precision_recall, nll ----
