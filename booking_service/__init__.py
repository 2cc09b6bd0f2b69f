"""Slotwise's booking service: the system of record and everything built on it.

The package is split into rooms by job. Imports point down only (a test enforces it):

========================  =====================================================  ==========================
room                      what it holds                                          may import
========================  =====================================================  ==========================
``cli``, ``seed``         the ``slotwise`` command and the demo organisation     every room
``web/``                  the Flask app factory, its blueprints and templates    calendars, services, store, core
``delivery/``             the worker and the sending of queued mail              calendars, services, store, core
``calendars/``            connectors: read calendars in, write meetings out      services, store, core
``services/``             domain services, one module per concept                store, core, ``planner``
``store/``                models, engines and sessions, migrations, loader,      core, ``planner``
                          work-queue leases
``core/``                 settings, how instants read, secrets at rest           nothing of Slotwise
========================  =====================================================  ==========================

``docs/architecture.md`` says what each room holds and where a new feature of each kind goes.
"""
