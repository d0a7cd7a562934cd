"""The course's machinery: what runs, rehearses, reports and publishes the course. It may import
``helpers``; ``helpers`` and the notebooks never import it, and what Colab installs (the package's
wheel) holds ``helpers`` alone. Run it from the repository's root (``scripts/env.sh`` puts the root
on the path):

    runner        python -m course_tools.runner: every notebook with papermill, summary and report
    report        the HTML page of a course run (templates/report.html.jinja)
    publish       python -m course_tools.publish: generated text (setup cells from
                  templates/colab_setup.py.jinja, the GPU lines, the README's course map,
                  04's rewards)
    rehearsal     a real profile's notebooks on a CPU, offline, with stand-in models
    memory_check  python -m course_tools.memory_check: memory estimates against measured steps
"""
