"""``gsmoothface app``: a local web page over the ``generate`` path (Gradio).

``server.serve`` loads the models once and serves ``page.build_page``; each visitor's jobs run one
at a time through ``jobs.run_job`` (the :class:`~gsmoothface.generate.inference.Inference` that
``gsmoothface generate`` uses), with uploads checked by ``checks`` and the models described by
``cards``. Needs the ``app`` extra (``pip install -e ".[app]"``).
"""
