# The student image for a graded class on JupyterHub: the course's requirements, the student
# runtime (what the released notebooks import) and JupyterLab set up for a student. It holds
# neither the reference solutions (solutions/) nor the hidden tests (autograde/hidden.py) nor
# notebook 1's Net (given/, which `python -m autograde release` hands out with the assignments
# after 01_network once 01_network is due). Students fetch the notebooks from the Assignments tab.
#
#   docker build -t pytorch-course-student .
#
# The repository is copied into the `build` stage only; the image is the last stage, which takes
# nothing from the build but the runtime folder `student-env --graded` writes.
# tests/test_student_env.py checks this file and the runtime's files.

FROM python:3.11-slim AS base
COPY requirements.txt constraints.txt /tmp/course/
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -r /tmp/course/requirements.txt -c /tmp/course/constraints.txt jupyterhub==6.1.1 \
    && rm -rf /tmp/course

FROM base AS build
COPY . /src
RUN cd /src && python -m autograde student-env --graded /env

FROM base
COPY --from=build /env/.runtime /tmp/runtime
RUN pip install --no-cache-dir --no-deps --no-build-isolation /tmp/runtime && rm -rf /tmp/runtime \
    && python -m autograde.student_lab \
    && useradd --create-home --uid 1000 student
USER student
WORKDIR /home/student
CMD ["jupyterhub-singleuser"]
