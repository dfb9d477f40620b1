-- EVCharging schema and seed data. Run once, on an empty database, by the
-- MariaDB image's /docker-entrypoint-initdb.d mechanism.
SET NAMES utf8mb4;
CREATE DATABASE IF NOT EXISTS evcharging_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE evcharging_db;

CREATE TABLE conductores (
    id              VARCHAR(32)  NOT NULL PRIMARY KEY,
    nombre          VARCHAR(80)  NOT NULL,
    apellidos       VARCHAR(120) NOT NULL,
    email           VARCHAR(160) NOT NULL UNIQUE,
    fecha_registro  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;

CREATE TABLE charging_points (
    id               VARCHAR(32)   NOT NULL PRIMARY KEY,
    ubicacion        VARCHAR(120)  NOT NULL,
    precio_kwh       DECIMAL(6,3)  NOT NULL CHECK (precio_kwh > 0),
    estado           ENUM('desconectado','activado','parado','suministrando','averiado')
                                   NOT NULL DEFAULT 'desconectado',
    fecha_registro   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    -- The CP's own credential, hashed; NULL until the CP has enrolled.
    credential_hash  VARCHAR(255)  NULL,
    -- Set for ids handed to scaled replicas, which are reused lowest-first.
    auto_provisioned BOOLEAN       NOT NULL DEFAULT FALSE,
    estado_desde     DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB;

CREATE TABLE suministros (
    id              VARCHAR(64)   NOT NULL PRIMARY KEY,   -- the session id, also the ticket id
    conductor_id    VARCHAR(32)   NOT NULL,
    cp_id           VARCHAR(32)   NOT NULL,
    fecha_inicio    DATETIME(3)   NOT NULL,
    fecha_fin       DATETIME(3)   NULL,
    consumo_kwh     DECIMAL(8,3)  NOT NULL DEFAULT 0,
    importe_total   DECIMAL(10,2) NOT NULL DEFAULT 0,
    precio_kwh      DECIMAL(6,3)  NOT NULL,
    -- fecha_inicio/fecha_fin are real (wall-clock) times. A demo CP may run its clock
    -- fast: each real second then counts as factor_tiempo seconds of charging, and
    -- duracion_s is the charging time consumo_kwh took in the CP's time, so
    -- consumo_kwh = average kW * duracion_s / 3600 (NULL: not reported yet).
    factor_tiempo   DECIMAL(8,3)  NOT NULL DEFAULT 1 CHECK (factor_tiempo > 0),
    duracion_s      DECIMAL(12,3) NULL,
    estado          ENUM('en_curso','unplugged','fault','operator_stop','disconnected')
                                  NOT NULL DEFAULT 'en_curso',
    CONSTRAINT fk_suministro_conductor FOREIGN KEY (conductor_id) REFERENCES conductores (id),
    CONSTRAINT fk_suministro_cp FOREIGN KEY (cp_id) REFERENCES charging_points (id),
    INDEX ix_suministros_conductor (conductor_id, fecha_fin),
    INDEX ix_suministros_cp (cp_id, fecha_inicio)
) ENGINE=InnoDB;

INSERT INTO conductores (id, nombre, apellidos, email) VALUES
    ('DRV001', 'Lucía',     'García Pérez',      'lucia.garcia@example.com'),
    ('DRV002', 'Hugo',      'Martínez López',    'hugo.martinez@example.com'),
    ('DRV003', 'Martina',   'Sánchez Gómez',     'martina.sanchez@example.com'),
    ('DRV004', 'Mateo',     'Fernández Ruiz',    'mateo.fernandez@example.com'),
    ('DRV005', 'Sofía',     'Díaz Moreno',       'sofia.diaz@example.com'),
    ('DRV006', 'Leo',       'Álvarez Romero',    'leo.alvarez@example.com'),
    ('DRV007', 'Valeria',   'Torres Navarro',    'valeria.torres@example.com'),
    ('DRV008', 'Daniel',    'Ramírez Gil',       'daniel.ramirez@example.com'),
    ('DRV009', 'Julia',     'Serrano Molina',    'julia.serrano@example.com'),
    ('DRV010', 'Pablo',     'Castillo Ortega',   'pablo.castillo@example.com'),
    ('DRV011', 'Carmen',    'Rubio Delgado',     'carmen.rubio@example.com'),
    ('DRV012', 'Álvaro',    'Ortiz Marín',       'alvaro.ortiz@example.com');

INSERT INTO charging_points (id, ubicacion, precio_kwh) VALUES
    ('CP001', 'Alicante, Av. de la Estación 12',      0.350),
    ('CP002', 'Alicante, Universidad, Parking Norte', 0.290),
    ('CP003', 'Elche, C/ Reina Victoria 4',           0.410),
    ('CP004', 'San Vicente, Centro Comercial',        0.380),
    ('CP005', 'Benidorm, Av. del Mediterráneo 77',    0.450),
    ('CP006', 'Alcoy, Plaza de España 1',             0.330);
