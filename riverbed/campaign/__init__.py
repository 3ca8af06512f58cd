"""Campaigns: many seeded, randomized fault schedules run one after another, reported as a matrix.

:mod:`riverbed.campaign.schedule` draws schedules from a seed (pure),
:mod:`riverbed.campaign.experiments` turns one into experiment files,
:mod:`riverbed.campaign.runner` runs them through ``riverbed run``'s pipeline and
:mod:`riverbed.campaign.report` writes campaign.json, campaign.html and junit.xml.
``riverbed campaign`` (:mod:`riverbed.campaign.cli`) is the command.
"""
