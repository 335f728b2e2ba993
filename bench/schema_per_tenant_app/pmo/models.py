"""Eighteen models shaped like a real programme PMO's: text, dates, money, foreign keys between
them, and the indexes and unique constraints such an app would declare. Each tenant's schema gets
all of them, so their DDL is what creating a tenant costs.
"""

from django.db import models

MONEY = {"max_digits": 14, "decimal_places": 2}
RAG = [("red", "Red"), ("amber", "Amber"), ("green", "Green")]


class Tracked(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Programme(Tracked):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    sponsor = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField(null=True)
    budget = models.DecimalField(**MONEY)
    status = models.CharField(max_length=20, default="active")

    class Meta:
        indexes = [models.Index(fields=["status", "start_date"])]


class Tranche(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="tranches")
    sequence = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField()
    budget = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "sequence"], name="tranche_sequence")
        ]


class Project(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="projects")
    tranche = models.ForeignKey(Tranche, on_delete=models.SET_NULL, null=True)
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    manager = models.CharField(max_length=200)
    start_date = models.DateField()
    end_date = models.DateField()
    budget = models.DecimalField(**MONEY)
    forecast = models.DecimalField(**MONEY, null=True)
    rag = models.CharField(max_length=5, choices=RAG, default="green")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["programme", "code"], name="project_code")]
        indexes = [models.Index(fields=["programme", "rag"])]


class Milestone(Tracked):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    baseline_date = models.DateField()
    due_date = models.DateField()
    achieved_on = models.DateField(null=True)

    class Meta:
        indexes = [models.Index(fields=["project", "due_date"])]


class Benefit(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="benefits")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200)
    unit = models.CharField(max_length=30)
    baseline_value = models.DecimalField(**MONEY)
    target_value = models.DecimalField(**MONEY)
    target_date = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["programme", "name"], name="benefit_name")]


class BenefitMeasurement(models.Model):
    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="measurements")
    measured_on = models.DateField()
    value = models.DecimalField(**MONEY)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benefit", "measured_on"], name="measurement_date")
        ]


class BenefitEnabler(models.Model):
    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="enablers")
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    contribution = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["benefit", "project"], name="enabler_project")
        ]


class Risk(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="risks")
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True)
    reference = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200)
    likelihood = models.PositiveSmallIntegerField()
    impact = models.PositiveSmallIntegerField()
    residual_score = models.PositiveSmallIntegerField()
    proximity = models.DateField(null=True)
    status = models.CharField(max_length=20, default="open")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "reference"], name="risk_reference")
        ]
        indexes = [models.Index(fields=["programme", "status", "residual_score"])]


class Assumption(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="assumptions")
    statement = models.TextField()
    owner = models.CharField(max_length=200)
    confidence = models.PositiveSmallIntegerField(default=3)
    validated_on = models.DateField(null=True)


class Issue(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="issues")
    project = models.ForeignKey(Project, on_delete=models.SET_NULL, null=True)
    reference = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(default=3)
    raised_on = models.DateField()
    resolved_on = models.DateField(null=True)
    status = models.CharField(max_length=20, default="open")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "reference"], name="issue_reference")
        ]


class Dependency(Tracked):
    from_project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="needs")
    to_project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="needed_by")
    description = models.TextField()
    needed_by = models.DateField()
    status = models.CharField(max_length=20, default="open")


class Board(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="boards")
    name = models.CharField(max_length=200)
    purpose = models.TextField(blank=True)
    cadence = models.CharField(max_length=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["programme", "name"], name="board_name")]


class BoardMember(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="members")
    person_name = models.CharField(max_length=200)
    email = models.EmailField()
    role = models.CharField(max_length=50)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "email"], name="board_seat")]


class Decision(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="decisions")
    board = models.ForeignKey(Board, on_delete=models.SET_NULL, null=True)
    title = models.CharField(max_length=200)
    rationale = models.TextField()
    decided_on = models.DateField()
    decided_by = models.CharField(max_length=200)


class Action(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="actions")
    decision = models.ForeignKey(Decision, on_delete=models.SET_NULL, null=True)
    issue = models.ForeignKey(Issue, on_delete=models.SET_NULL, null=True)
    title = models.CharField(max_length=200)
    owner = models.CharField(max_length=200)
    due_date = models.DateField()
    done_on = models.DateField(null=True)
    status = models.CharField(max_length=20, default="open")

    class Meta:
        indexes = [models.Index(fields=["programme", "status", "due_date"])]


class StageGate(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="gates")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True)
    name = models.CharField(max_length=200)
    planned_on = models.DateField()
    held_on = models.DateField(null=True)
    outcome = models.CharField(max_length=20, blank=True)


class GateCriterion(models.Model):
    gate = models.ForeignKey(StageGate, on_delete=models.CASCADE, related_name="criteria")
    sequence = models.PositiveSmallIntegerField()
    description = models.TextField()
    met = models.BooleanField(null=True)
    evidence = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gate", "sequence"], name="criterion_sequence")
        ]


class StatusReport(Tracked):
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="reports")
    period_start = models.DateField()
    period_end = models.DateField()
    overall_rag = models.CharField(max_length=5, choices=RAG)
    summary = models.TextField()
    budget_spent = models.DecimalField(**MONEY)
    state = models.CharField(max_length=20, default="draft")
    published_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["programme", "period_end"], name="report_period")
        ]
        indexes = [models.Index(fields=["programme", "state", "period_end"])]
