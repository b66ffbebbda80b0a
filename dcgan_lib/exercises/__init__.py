"""Graded exercises: the checks of each chapter's exercises (one module per chapter) and the grader.

In a notebook, a check cell calls one function from here with the learner's answer::

    from dcgan_lib.exercises import check_conv_transpose_output_size
    check_conv_transpose_output_size(conv_transpose_output_size)

It tries the answer on several cases (some the exercise text never shows) and either prints
what it verified or raises ``CheckFailed`` whose one-sentence message says what is wrong.
An answer that still raises the stub's ``NotImplementedError`` gives ``NotAttempted``.

Every call of the learner's function goes through ``_wire``: its arguments and its result
cross as plain data, so the same check runs in a check cell and in the grader, which keeps
the learner's code in a kernel of its own (``grade``)::

    python -m dcgan_lib.exercises grade PATH.ipynb ... [--json]

The checks live in one module per chapter: ``principles``, ``activations``,
``normalization``, ``training_dynamics``, ``latent_space``, ``hands_on``, ``scaling``.

Adding an exercise N.M: write its check in the chapter's module with the ``@exercise``
decorator (the id, a title, its kind, the names it takes from the notebook), calling the
learner's code only through ``call`` / ``call_full``, and import it here; in
``exercises/solutions/NN_<chapter>.ipynb`` add a markdown cell headed ``## Exercise N.M``
with the task and a hint dropdown, a code cell with the solution between
``# BEGIN SOLUTION`` and ``# END SOLUTION`` inside a function body, and a check cell
``check_<name>(<name>)``; run ``python tools/exercises.py generate``; give
``tests/test_exercise_checks.py`` at least three wrong answers that the check must reject.
"""

from dcgan_lib.exercises._core import (
    EXERCISES,
    CheckFailed,
    Exercise,
    NotAttempted,
    attempted,
)
from dcgan_lib.exercises.activations import (
    check_answer_2_4,
    check_leaky_relu,
    check_mean_gradient,
    check_output_grad,
)
from dcgan_lib.exercises.hands_on import (
    check_answer_6_4,
    check_discriminator_losses,
    check_ema_update,
    check_frechet_distance,
    check_generator_block_parameters,
    check_inception_score,
    check_linear_probe,
    check_nearest_training_distance,
    check_smoothness,
    check_strongest_patches,
)
from dcgan_lib.exercises.latent_space import (
    check_answer_5_3,
    check_answer_5_6,
    check_ink_drawn,
    check_latent_arithmetic,
    check_sample_latent,
    check_slerp,
)
from dcgan_lib.exercises.normalization import (
    check_answer_3_4,
    check_instance_norm,
    check_leaks_batch,
    check_relative_variance_mse,
)
from dcgan_lib.exercises.principles import (
    check_answer_1_4,
    check_conv_output_size,
    check_conv_transpose_output_size,
    check_discriminator_block,
)
from dcgan_lib.exercises.scaling import (
    check_answer_7_4,
    check_measure_split_noise,
    check_per_process_noise,
    check_pooled_mean_var,
)
from dcgan_lib.exercises.training_dynamics import (
    check_answer_4_4,
    check_modes_covered,
    check_non_saturating_loss,
    check_smoothed_d_loss,
    check_spiral_frequency,
)

__all__ = [
    "EXERCISES", "CheckFailed", "Exercise", "NotAttempted", "attempted",
    "check_conv_transpose_output_size", "check_conv_output_size", "check_discriminator_block",
    "check_answer_1_4", "check_leaky_relu", "check_mean_gradient", "check_output_grad",
    "check_answer_2_4", "check_relative_variance_mse", "check_instance_norm",
    "check_leaks_batch", "check_answer_3_4", "check_non_saturating_loss",
    "check_smoothed_d_loss", "check_spiral_frequency", "check_answer_4_4", "check_modes_covered",
    "check_slerp",
    "check_sample_latent", "check_answer_5_3", "check_latent_arithmetic", "check_ink_drawn",
    "check_answer_5_6",
    "check_discriminator_losses", "check_frechet_distance", "check_inception_score",
    "check_answer_6_4", "check_generator_block_parameters", "check_ema_update",
    "check_nearest_training_distance", "check_linear_probe", "check_smoothness",
    "check_strongest_patches",
    "check_per_process_noise", "check_pooled_mean_var", "check_measure_split_noise",
    "check_answer_7_4",
]
