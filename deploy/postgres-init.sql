-- Run once by the postgres image on a new volume (docker-entrypoint-initdb.d): the roles of
-- README "Row-level security and database roles". Passwords are for local use only.
CREATE ROLE crm LOGIN PASSWORD 'crm' NOSUPERUSER CREATEROLE;
CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE crm_api LOGIN PASSWORD 'crm_api' NOSUPERUSER NOBYPASSRLS IN ROLE crm_app;
CREATE DATABASE crm OWNER crm;
